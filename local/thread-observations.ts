// What the report observes of container threads (local/thread-container.ts), in counters on one
// SharedArrayBuffer that every thread writes with Atomics and the main thread reads when it samples: no message
// crosses the thread boundary per task or per request. Per function: task requests in flight now, the most at
// once (summed over all its containers, as the in-process HttpObserver counts them), and whether the function
// was hurried (a stopping run: getRemainingTimeInMillis() reads 0). For all: the latency histogram's buckets.
// Integers only (Atomics): the maximum latency is kept in microseconds.
import { defaultBoundsMs } from './report/latency.js';

/** What a thread needs to write the same counters: structured-clonable (the buffer is shared, not copied). */
export interface ThreadObservationsHandle {
  readonly buffer: SharedArrayBuffer;
  readonly functionNames: readonly string[];
  readonly boundsMs: readonly number[];
}

const PER_FUNCTION = 3; // in flight, peak, hurried
const IN_FLIGHT = 0;
const PEAK = 1;
const HURRIED = 2;

export class ThreadObservations {
  readonly handle: ThreadObservationsHandle;
  readonly #view: Int32Array;
  readonly #latencyAt: number;

  constructor(handle: ThreadObservationsHandle | { functionNames: readonly string[] }) {
    const boundsMs = 'boundsMs' in handle ? handle.boundsMs : defaultBoundsMs;
    const slots = handle.functionNames.length * PER_FUNCTION + boundsMs.length + 1 + 2;
    const buffer =
      'buffer' in handle ? handle.buffer : new SharedArrayBuffer(slots * Int32Array.BYTES_PER_ELEMENT);
    this.handle = { buffer, functionNames: [...handle.functionNames], boundsMs: [...boundsMs] };
    this.#view = new Int32Array(buffer);
    this.#latencyAt = handle.functionNames.length * PER_FUNCTION;
  }

  inFlight(functionName: string): number {
    const at = this.#slot(functionName);
    return at < 0 ? 0 : Atomics.load(this.#view, at + IN_FLIGHT);
  }

  peakInFlight(functionName: string): number {
    const at = this.#slot(functionName);
    return at < 0 ? 0 : Atomics.load(this.#view, at + PEAK);
  }

  hurry(functionName: string): void {
    const at = this.#slot(functionName);
    if (at >= 0) Atomics.store(this.#view, at + HURRIED, 1);
  }

  hurried(functionName: string): boolean {
    const at = this.#slot(functionName);
    return at >= 0 && Atomics.load(this.#view, at + HURRIED) === 1;
  }

  /** A task request of `functionName` was created (in a container thread). */
  requestStarted(functionName: string): void {
    const at = this.#slot(functionName);
    if (at < 0) return;
    const now = Atomics.add(this.#view, at + IN_FLIGHT, 1) + 1;
    raiseTo(this.#view, at + PEAK, now);
  }

  /** It ended; `ms` is its response time when it had been written to a socket. */
  requestEnded(functionName: string, ms: number | undefined): void {
    const at = this.#slot(functionName);
    if (at < 0) return;
    Atomics.sub(this.#view, at + IN_FLIGHT, 1);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) return;
    const buckets = this.handle.boundsMs.length + 1;
    Atomics.add(this.#view, this.#latencyAt + bucketOf(this.handle.boundsMs, ms), 1);
    Atomics.add(this.#view, this.#latencyAt + buckets, 1);
    raiseTo(this.#view, this.#latencyAt + buckets + 1, Math.min(2 ** 31 - 1, Math.round(ms * 1000)));
  }

  /** The latency buckets (bounds as `boundsMs`, one more for above the last) and the maximum. */
  latency(): { counts: number[]; maxMs: number } {
    const buckets = this.handle.boundsMs.length + 1;
    const counts = Array.from({ length: buckets }, (_, i) => Atomics.load(this.#view, this.#latencyAt + i));
    return { counts, maxMs: Atomics.load(this.#view, this.#latencyAt + buckets + 1) / 1000 };
  }

  #slot(functionName: string): number {
    const index = this.handle.functionNames.indexOf(functionName);
    return index < 0 ? -1 : index * PER_FUNCTION;
  }
}

// A maximum written by several threads at once: retried until no other thread raised it in between.
function raiseTo(view: Int32Array, at: number, value: number): void {
  let seen = Atomics.load(view, at);
  while (value > seen) {
    const before = Atomics.compareExchange(view, at, seen, value);
    if (before === seen) return;
    seen = before;
  }
}

function bucketOf(bounds: readonly number[], ms: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bounds[mid] >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
