// Task latencies in fixed log-spaced buckets: constant memory whatever the number of tasks (a million-task run
// keeps 51 counters, not a million numbers). Percentiles are read at bucket bounds, so they are upper estimates
// within one bucket's width (about 25%).
import type { LatencyHistogramData } from './types.js';

/** 1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8, 10 ... 80 000 ms: ten buckets per decade, about 25% wide each. */
export const defaultBoundsMs: readonly number[] = (() => {
  const steps = [1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8];
  const bounds: number[] = [];
  for (let decade = 1; decade <= 10_000; decade *= 10) {
    for (const step of steps) bounds.push(Math.round(step * decade * 100) / 100);
  }
  return bounds;
})();

export class LatencyHistogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #count = 0;
  #max = 0;

  constructor(boundsMs: readonly number[] = defaultBoundsMs) {
    for (let i = 1; i < boundsMs.length; i++) {
      if (!(boundsMs[i] > boundsMs[i - 1])) {
        throw new RangeError(`Expected \`boundsMs\` to increase, got ${boundsMs[i - 1]} then ${boundsMs[i]}`);
      }
    }
    this.#bounds = boundsMs;
    this.#counts = new Array(boundsMs.length + 1).fill(0);
  }

  get count(): number {
    return this.#count;
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#counts[this.#bucketOf(ms)]++;
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  /** Adds another histogram's counts (same bounds), as if its values had been recorded here. */
  absorb({ counts, maxMs }: { readonly counts: readonly number[]; readonly maxMs: number }): void {
    if (counts.length !== this.#counts.length) {
      throw new RangeError(`Expected ${this.#counts.length} bucket counts, got ${counts.length}`);
    }
    counts.forEach((n, i) => {
      this.#counts[i] += n;
      this.#count += n;
    });
    if (maxMs > this.#max) this.#max = maxMs;
  }

  /** The smallest bucket bound at or above the q-quantile (the max when it falls in the open last bucket). */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return i < this.#bounds.length ? Math.min(this.#bounds[i], this.#max) : this.#max;
    }
    return this.#max;
  }

  toJSON(): LatencyHistogramData {
    return {
      boundsMs: [...this.#bounds],
      counts: [...this.#counts],
      count: this.#count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      maxMs: this.#max,
    };
  }

  #bucketOf(ms: number): number {
    // Binary search: the first bound >= ms.
    let lo = 0;
    let hi = this.#bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#bounds[mid] >= ms) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** A latency as shown to a reader: whole milliseconds, a tenth below 10 ms (12.5 ms buckets stay readable). */
export function displayMs(ms: number): string {
  return ms < 10 ? String(Math.round(ms * 10) / 10) : String(Math.round(ms));
}
