// A manual clock for the downstream limiters' tests: time moves only when the test says so, and due timers
// run in time order. Not a mock of the code under test: the limiters take any Clock by design.
import type { Clock } from '../../../lib/downstream/clock.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): number {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** When the next timer is due, or undefined when none is set. */
  nextAt(): number | undefined {
    let next: number | undefined;
    for (const timer of this.#timers.values()) if (next === undefined || timer.at < next) next = timer.at;
    return next;
  }

  /** Moves time forward by `ms`, running each timer due on the way at its own time, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let due: [number, Timer] | undefined;
      for (const entry of this.#timers) {
        const t = entry[1];
        if (t.at <= end && (!due || t.at < due[1].at || (t.at === due[1].at && t.seq < due[1].seq)))
          due = entry;
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].callback();
    }
    this.#now = end;
  }
}

/** Lets every pending promise callback run (a macrotask turn). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
