import type { TimelineSample } from './types.js';

/**
 * Tasks ended per second, over a window of about two seconds (or four samples) ending at each sample: counts
 * arrive a worker batch at a time, so a rate between single samples is all spikes.
 */
export function throughput(timeline: readonly TimelineSample[], windowMs = 2_000): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  let from = 0;
  for (let i = 1; i < timeline.length; i++) {
    const b = timeline[i];
    while (from < i - 1 && b.t - timeline[from + 1].t >= windowMs) from++;
    const a = timeline[from];
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    points.push([b.t / 1000, Math.max(0, (b.done + b.failed - a.done - a.failed) / dt)]);
  }
  return points;
}
