import { describe, expect, it } from 'vitest';
import type { JobLedger } from '../../../lib/ledger/job-ledger.js';
import { RunControl } from '../../../lib/ledger/run-control.js';
import { type RunRecord, RunStatuses, zeroCounts } from '../../../lib/ledger/run-record.js';

const record = (runId: string, over: Partial<RunRecord> = {}): RunRecord => ({
  jobId: 'j',
  runId,
  status: RunStatuses.RUNNING,
  startedAt: 1,
  manifestDone: false,
  toleratedFailurePercent: 100,
  version: 1,
  ...zeroCounts(),
  ...over,
});

/** TEST DOUBLE of the ledger's getRun only: counts reads and answers from a map (the cache is the subject). */
function countingLedger(runs: Map<string, RunRecord>) {
  const calls = { getRun: 0, fail: false };
  const ledger = {
    async getRun(_jobId: string, runId?: string) {
      calls.getRun++;
      await Promise.resolve();
      if (calls.fail) throw new Error('ledger down');
      return runs.get(runId ?? '');
    },
  } as unknown as JobLedger;
  return { ledger, calls };
}

describe('RunControl', () => {
  it('reads a run at most once per maxAgeMs however many tasks ask, and concurrent askers share one read', async () => {
    let now = 0;
    const runs = new Map([['r1', record('r1')]]);
    const { ledger, calls } = countingLedger(runs);
    const control = new RunControl(ledger, { maxAgeMs: 2_000, now: () => now });
    const views = await Promise.all(Array.from({ length: 100 }, () => control.view('j', 'r1')));
    expect(views.every((v) => v?.status === 'running')).toBe(true);
    expect(calls.getRun).toBe(1);
    for (let i = 0; i < 1_000; i++) control.peek('j', 'r1');
    now = 1_999;
    await control.view('j', 'r1');
    expect(calls.getRun).toBe(1);
    runs.set('r1', record('r1', { status: RunStatuses.PAUSED, version: 2 }));
    now = 2_000;
    // peek answers from the cache at once and starts one refresh.
    expect(control.peek('j', 'r1')?.status).toBe('running');
    expect(control.peek('j', 'r1')?.status).toBe('running');
    await control.view('j', 'r1');
    expect(calls.getRun).toBe(2);
    expect(control.peek('j', 'r1')?.status).toBe('paused');
    expect(control.reads).toBe(2);
  });

  it('a failed read keeps the last copy and is retried only after maxAgeMs', async () => {
    let now = 0;
    const { ledger, calls } = countingLedger(new Map([['r1', record('r1')]]));
    const control = new RunControl(ledger, { maxAgeMs: 2_000, now: () => now });
    await control.view('j', 'r1');
    calls.fail = true;
    now = 5_000;
    expect((await control.view('j', 'r1'))?.status).toBe('running');
    expect((await control.view('j', 'r1'))?.status).toBe('running');
    expect(calls.getRun).toBe(2);
  });

  it('note() takes a settle’s record without a read, never an older version', async () => {
    const { ledger, calls } = countingLedger(new Map());
    const control = new RunControl(ledger, { now: () => 0 });
    control.note(record('r1', { version: 3, succeeded: 5 }));
    control.note(record('r1', { version: 2, status: RunStatuses.CANCELLED }));
    expect(control.peek('j', 'r1')).toMatchObject({ version: 3, succeeded: 5, status: 'running' });
    control.note(record('r1', { version: 3, succeeded: 9 }));
    expect((await control.view('j', 'r1'))?.succeeded).toBe(9);
    expect(calls.getRun).toBe(0);
  });

  it('confirm() counts as a read of the cached version only, and a confirmed copy is not read again for maxAgeMs', async () => {
    let now = 0;
    const runs = new Map([['r1', record('r1')]]);
    const { ledger, calls } = countingLedger(runs);
    const control = new RunControl(ledger, { maxAgeMs: 2_000, now: () => now });
    expect(control.cachedVersion('j', 'r1')).toBeUndefined();
    await control.view('j', 'r1');
    expect(control.cachedVersion('j', 'r1')).toBe(1);
    // Dated from when the settle was asked (1,500), not from its answer (now, 1,900).
    now = 1_900;
    control.confirm('j', 'r1', 1, 1_500);
    now = 3_400;
    await control.view('j', 'r1');
    expect(calls.getRun).toBe(1);
    // An older ask never moves the copy's date back; a settle that saw another version says nothing of it.
    control.confirm('j', 'r1', 1, 1_000);
    control.confirm('j', 'r1', 2, 3_400);
    now = 3_500;
    runs.set('r1', record('r1', { status: RunStatuses.PAUSED, version: 2 }));
    expect((await control.view('j', 'r1'))?.status).toBe('paused');
    expect(calls.getRun).toBe(2);
    control.confirm('j', 'unknown', 1, 3_500);
    expect(control.cachedVersion('j', 'unknown')).toBeUndefined();
  });

  it('keeps at most maxRuns runs, dropping the oldest', async () => {
    const { ledger } = countingLedger(new Map());
    const control = new RunControl(ledger, { maxRuns: 2, now: () => 0 });
    control.note(record('a'));
    control.note(record('b'));
    control.note(record('c'));
    expect(control.peek('j', 'a')).toBeUndefined();
    expect(control.peek('j', 'b')?.runId).toBe('b');
    expect(control.peek('j', 'c')?.runId).toBe('c');
  });
});
