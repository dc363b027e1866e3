import { describe, expect, it } from 'vitest';
import {
  ProgressDisplay,
  ProgressModes,
  progressModeFor,
  renderProgressBlock,
  renderProgressLine,
} from '../../../local/cli/progress.js';
import type { TimelineSample } from '../../../local/report/types.js';

const view = { jobId: 'demo', limits: { inline: 32, workers: 10, sockets: 64 }, total: 3003 };
const sample = (t: number, done = 0): TimelineSample => ({
  t,
  inlineInFlight: 16,
  workersInFlight: 10,
  socketsInFlight: 0,
  done,
  failed: 2,
  queued: 1500,
});

function sink() {
  const chunks: string[] = [];
  return { chunks, stream: { write: (c: string) => chunks.push(c) } as unknown as NodeJS.WritableStream };
}

describe('progress', () => {
  it('uses a terminal only when stderr is one and CI is not set', () => {
    expect(progressModeFor({ isTTY: true, env: {} })).toBe(ProgressModes.TTY);
    expect(progressModeFor({ isTTY: false, env: {} })).toBe(ProgressModes.PLAIN);
    expect(progressModeFor({ isTTY: true, env: { CI: 'true' } })).toBe(ProgressModes.PLAIN);
    expect(progressModeFor({ isTTY: true, env: { CI: '1' } })).toBe(ProgressModes.PLAIN);
    expect(progressModeFor({ isTTY: true, env: { CI: 'false' } })).toBe(ProgressModes.TTY);
    expect(progressModeFor({ isTTY: true, env: { TERM: 'dumb' } })).toBe(ProgressModes.PLAIN);
    expect(progressModeFor({ isTTY: true, env: { BOUNDED_FANOUT_PROGRESS: 'off' } })).toBe(ProgressModes.OFF);
  });

  it('draws against the limits set while it runs, from the next draw on', () => {
    const out = sink();
    const display = new ProgressDisplay({
      view,
      mode: ProgressModes.PLAIN,
      stream: out.stream,
      now: () => 0,
    });
    display.update(sample(1_000));
    display.setLimits({ inline: 2, workers: 10, sockets: 30 });
    display.finish();
    expect(out.chunks).toHaveLength(2);
    expect(out.chunks[0]).toContain('in flight: inline 16/32, workers 10/10, sockets 0/64');
    expect(out.chunks[1]).toContain('in flight: inline 16/2, workers 10/10, sockets 0/30');
  });

  it('draws each layer against its limit', () => {
    const block = renderProgressBlock(sample(12_345, 1200), view);
    expect(block[0]).toBe('demo · 12.3 s · done 1,200 · failed 2 · queued 1,500 of 3,003');
    expect(block[1]).toBe(`  inline   [${'#'.repeat(12)}${'.'.repeat(12)}]    16 / 32 in flight`);
    expect(block[2]).toBe(`  workers  [${'#'.repeat(24)}]    10 / 10 in flight`);
    expect(block[3]).toBe(`  sockets  [${'.'.repeat(24)}]     0 / 64 in flight`);
    expect(renderProgressLine(sample(3_000, 7), view)).toBe(
      '[3.0 s] done 7, failed 2, queued 1,500 of 3,003 | in flight: inline 16/32, workers 10/10, sockets 0/64',
    );
  });

  it('prints plain lines at most once per interval, and the final state always', () => {
    let now = 0;
    const out = sink();
    const display = new ProgressDisplay({
      view,
      mode: ProgressModes.PLAIN,
      stream: out.stream,
      plainIntervalMs: 3000,
      now: () => now,
    });
    for (now = 0; now <= 10_000; now += 250) display.update(sample(now));
    // At 0, 3000, 6000 and 9000 ms.
    expect(out.chunks).toHaveLength(4);
    display.finish();
    expect(out.chunks).toHaveLength(5);
    expect(out.chunks.every((c) => c.endsWith('\n') && !c.includes('\x1b'))).toBe(true);
  });

  it('redraws in place on a terminal', () => {
    let now = 0;
    const out = sink();
    const display = new ProgressDisplay({
      view,
      mode: ProgressModes.TTY,
      stream: out.stream,
      redrawMs: 100,
      now: () => now,
    });
    display.update(sample(0));
    now = 150;
    display.update(sample(150));
    now = 160;
    display.update(sample(160)); // throttled
    expect(out.chunks.filter((c) => c === '\x1b[4F\x1b[0J')).toHaveLength(1);
    display.note('stopping');
    expect(out.chunks.slice(-3)).toEqual([
      '\x1b[4F\x1b[0J',
      'stopping\n',
      expect.stringContaining('demo · 0.2 s'),
    ]);
  });

  it('draws nothing when off', () => {
    const out = sink();
    const display = new ProgressDisplay({ view, mode: ProgressModes.OFF, stream: out.stream });
    display.update(sample(0));
    display.finish();
    expect(out.chunks).toEqual([]);
  });
});
