// Samples a run's progress at a fixed interval into the report's timeline. The number of samples stays bounded
// however long the run: past `maxSamples` every other sample is dropped and the interval doubles, so a long run
// keeps an even picture of its whole length.
import { assertInteger } from '../../lib/errors.js';
import type { ProgressSnapshot, TimelineSample } from './types.js';

export interface TimelineSamplerOptions {
  /** Returns the current snapshot. Called on the timer; must be cheap and must not throw. */
  readonly probe: () => ProgressSnapshot;
  readonly intervalMs?: number;
  readonly maxSamples?: number;
  /** Called with every sample taken (the live progress display hangs off this). */
  readonly onSample?: (sample: TimelineSample) => void;
  readonly now?: () => number;
}

export class TimelineSampler {
  readonly #probe: () => ProgressSnapshot;
  readonly #maxSamples: number;
  readonly #onSample?: (sample: TimelineSample) => void;
  readonly #now: () => number;
  #intervalMs: number;
  #samples: TimelineSample[] = [];
  #timer?: NodeJS.Timeout;
  #startedAt = 0;
  #lastT = Number.NEGATIVE_INFINITY;

  constructor({
    probe,
    intervalMs = 250,
    maxSamples = 1_200,
    onSample,
    now = performance.now.bind(performance),
  }: TimelineSamplerOptions) {
    if (typeof probe !== 'function') throw new TypeError('Expected `probe` to be a function');
    assertInteger('intervalMs', intervalMs, { min: 1 });
    assertInteger('maxSamples', maxSamples, { min: 4 });
    this.#probe = probe;
    this.#intervalMs = intervalMs;
    this.#maxSamples = maxSamples;
    this.#onSample = onSample;
    this.#now = now;
  }

  get samples(): readonly TimelineSample[] {
    return this.#samples;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  start(): void {
    if (this.#timer) return;
    this.#startedAt = this.#now();
    this.sample();
    this.#schedule();
  }

  /** Takes one sample now (also used for the final one, so the timeline ends on the final counts). */
  sample(): TimelineSample {
    const t = Math.round(this.#now() - this.#startedAt);
    const sample: TimelineSample = { t, ...this.#probe() };
    if (t === this.#lastT && this.#samples.length > 0) this.#samples[this.#samples.length - 1] = sample;
    else this.#samples.push(sample);
    this.#lastT = t;
    if (this.#samples.length > this.#maxSamples) this.#thin();
    this.#onSample?.(sample);
    return sample;
  }

  /** Stops the timer and takes the final sample. */
  stop(): readonly TimelineSample[] {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.sample();
    return this.#samples;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.sample();
      this.#schedule();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  #thin(): void {
    const last = this.#samples[this.#samples.length - 1];
    const kept = this.#samples.filter((_, i) => i % 2 === 0);
    if (kept[kept.length - 1] !== last) kept.push(last);
    this.#samples = kept;
    this.#intervalMs *= 2;
  }
}
