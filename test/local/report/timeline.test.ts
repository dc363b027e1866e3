import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimelineSampler } from '../../../local/report/timeline.js';
import type { ProgressSnapshot } from '../../../local/report/types.js';

const snapshot = (done: number): ProgressSnapshot => ({
  inlineInFlight: 1,
  workersInFlight: 2,
  socketsInFlight: 3,
  done,
  failed: 0,
  queued: 0,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('TimelineSampler', () => {
  it('samples on its interval, and ends on a final sample', () => {
    vi.useFakeTimers();
    let done = 0;
    let now = 0;
    const seen: number[] = [];
    const sampler = new TimelineSampler({
      probe: () => snapshot(done),
      intervalMs: 100,
      now: () => now,
      onSample: (s) => seen.push(s.t),
    });
    sampler.start();
    for (let i = 0; i < 10; i++) {
      now += 100;
      done += 5;
      vi.advanceTimersByTime(100);
    }
    now += 30;
    done = 999;
    const samples = sampler.stop();
    expect(samples.map((s) => s.t)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1030]);
    expect(samples.at(-1)).toMatchObject({
      done: 999,
      inlineInFlight: 1,
      workersInFlight: 2,
      socketsInFlight: 3,
    });
    expect(seen).toEqual(samples.map((s) => s.t));
    vi.advanceTimersByTime(1000);
    expect(sampler.samples).toHaveLength(12);
  });

  it('stays within maxSamples however long the run, keeping the first and last sample and time order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 50 }), fc.integer({ min: 1, max: 400 }), (maxSamples, ticks) => {
        let now = 0;
        const sampler = new TimelineSampler({
          probe: () => snapshot(now),
          intervalMs: 10,
          maxSamples,
          now: () => now,
        });
        sampler.start();
        for (let i = 0; i < ticks; i++) {
          now += 10;
          sampler.sample();
        }
        now += 1;
        const samples = sampler.stop();
        expect(samples.length).toBeLessThanOrEqual(maxSamples + 1);
        expect(samples[0].t).toBe(0);
        expect(samples.at(-1)?.t).toBe(now);
        for (let i = 1; i < samples.length; i++) expect(samples[i].t).toBeGreaterThan(samples[i - 1].t);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses bad options naming them', () => {
    expect(() => new TimelineSampler({ probe: () => snapshot(0), intervalMs: 0 })).toThrow(
      'Expected `intervalMs` to be an integer >= 1, got 0',
    );
    expect(() => new TimelineSampler({ probe: undefined as never })).toThrow(
      'Expected `probe` to be a function',
    );
  });
});
