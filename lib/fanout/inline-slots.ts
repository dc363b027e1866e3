import { type Release, Semaphore } from '../semaphore.js';

/*
The permits of a segment's inline tasks, under a live cap (a run's inlineConcurrency override, which the
caller refreshes): asked before each acquire and again once granted, the Semaphore's limit follows it, down
or back up, never above the segment's own limit. Holders over a lowered cap finish; a permit granted over it
(the cap fell while the caller waited) goes back, so no task starts until the in-flight count is under it.
*/
export class InlineSlots {
  readonly #slots: Semaphore;
  readonly #limit: number;
  readonly #cap: (() => number | undefined) | undefined;

  constructor(limit: number, cap?: () => number | undefined) {
    this.#slots = new Semaphore(limit);
    this.#limit = limit;
    this.#cap = cap;
  }

  get peakInFlight(): number {
    return this.#slots.peakInFlight;
  }

  async acquire(): Promise<Release> {
    for (;;) {
      this.#follow();
      const release = await this.#slots.acquire();
      this.#follow();
      if (this.#slots.inFlight <= this.#slots.permits) return release;
      release();
    }
  }

  #follow(): void {
    if (!this.#cap) return;
    const cap = this.#cap();
    const permits = cap === undefined ? this.#limit : Math.min(cap, this.#limit);
    if (permits !== this.#slots.permits) this.#slots.setPermits(permits);
  }
}
