// The worker's per-invocation clock on an injected clock and fake timers: how much time it keeps to settle,
// which tasks it starts, and the abort at the deadline. No time is spent.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { invocationDeadline, settleReserveMs } from '../../functions/invocation-deadline.js';
import type { RunHttpTaskOptions } from '../../lib/http/run-http-task.js';
import type { JobTask } from '../../lib/manifest/schema.js';

const base = { dispatcher: {} as RunHttpTaskOptions['dispatcher'], timeoutMs: 10_000 };
const task = (timeoutMs?: number): JobTask => ({
  id: 't',
  url: 'http://127.0.0.1/x',
  mode: 'queue',
  timeoutMs,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('invocationDeadline', () => {
  it('keeps a tenth of the invocation to settle, at most 5 s, at least a quarter up to 1 s', () => {
    expect([2_000, 30_000, 50_000, 60_000, 900_000].map(settleReserveMs)).toEqual([
      500, 3_000, 5_000, 5_000, 5_000,
    ]);
  });

  it('starts a task only if its attempt ends by the deadline, and hands it on otherwise', () => {
    let clock = 1_000;
    const d = invocationDeadline({ getRemainingTimeInMillis: () => 60_000 }, base, () => clock);
    try {
      expect(d.at).toBe(1_000 + 55_000);
      expect(d.taskOptions).toMatchObject({ ...base, deadline: 56_000 });
      expect(d.tooLate(task())).toBeUndefined();
      clock = 46_000; // 46 s + 10 s = the deadline exactly
      expect(d.tooLate(task())).toBeUndefined();
      expect(d.tooLate(task(5_000))).toBeUndefined();
      clock = 46_001;
      expect(d.tooLate(task())).toEqual({
        id: 't',
        ok: false,
        attempts: 0,
        retryable: true,
        unstarted: true,
        error: "BF_DEADLINE: not started: an attempt of 10000 ms would end after the invocation's deadline",
      });
      expect(d.tooLate(task(5_000))).toBeUndefined();
    } finally {
      d.close();
    }
  });

  it('fails for good a task whose one attempt cannot fit in a whole invocation (handing it on would never end)', () => {
    const d = invocationDeadline({ getRemainingTimeInMillis: () => 60_000 }, base, () => 0);
    try {
      expect(d.tooLate(task(55_001))).toEqual({
        id: 't',
        ok: false,
        attempts: 0,
        retryable: false,
        error:
          'BF_DEADLINE: not started: an attempt of 55001 ms does not fit in the 55000 ms an invocation has for tasks',
      });
    } finally {
      d.close();
    }
  });

  it('aborts what still runs at the deadline, and nothing after close()', () => {
    vi.useFakeTimers();
    const d = invocationDeadline({ getRemainingTimeInMillis: () => 2_000 }, base, () => 0);
    const signal = d.taskOptions.signal!;
    vi.advanceTimersByTime(1_499); // 2 s less the 500 ms reserve
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(d.tooLate(task(1))).toMatchObject({ unstarted: true });
    const closed = invocationDeadline({ getRemainingTimeInMillis: () => 2_000 }, base, () => 0);
    closed.close();
    vi.advanceTimersByTime(10_000);
    expect(closed.taskOptions.signal!.aborted).toBe(false);
  });
});
