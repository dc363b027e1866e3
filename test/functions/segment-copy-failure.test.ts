import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { pathCounts } from '../helpers/path-counts.js';
import { type Containers, startContainers } from './containers.js';
import { fakeContext, type Harness, quietPowertools } from './harness.js';
import { counts } from './run-outcome.js';
import { atTask, orchestratorCopy } from './segment-copy-gates.js';

// Two copies of one segment (a retried invocation beside the first, as after a timeout) that saw different
// outcomes, through the real handlers against the backend and a real HTTP target on 127.0.0.1. The copy whose
// settle counts says how the run went: once it has settled, a copy that trips the failure budget on its own
// outcomes afterwards fails nothing, neither at its trip (which would stop the fleet at once) nor at its end.
// Copy A starts first and is held before its request to task `x`; copy B runs x (200, its first request),
// queues `q` and settles, counted; then A's request to x answers 404, which trips a budget of 0% on the
// fleet's counts plus A's own, and A's settle loses. The queued task then runs and the run ends `succeeded`.

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let ledger: JobLedger;
const runtimes: FunctionRuntime[] = [];
const nth = pathCounts();

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => {
    const n = nth(req.path);
    return req.path.includes('/notfirst/') && n > 1 ? { status: 404 } : undefined;
  });
  c = await startContainers({ perInvocationConcurrency: 4, deadlineMarginMs: 1000 });
  ({ h, ledger } = c);
});

afterAll(async () => {
  for (const rt of runtimes) await rt.destroy();
  await c?.destroy();
  await server?.close();
});

const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;

describe('a losing copy of a segment', () => {
  it('that trips the failure budget after the winner settled fails nothing: the run ends succeeded', async () => {
    const tasks = [
      { id: 'x', url: `${server.url}/notfirst/x`, mode: 'inline' },
      { id: 'q', url: `${server.url}/ok/q`, mode: 'queue' },
    ];
    const event = { jobId: 'loser-budget', runId: 'r1', tasks, toleratedFailurePercent: 0 };
    const aTask = atTask('/notfirst/x');
    const copyA = await orchestratorCopy(h, runtimes, aTask);
    const copyB = await orchestratorCopy(h, runtimes);
    const a = copyA(event, fakeContext());
    await aTask.reached;
    const b = await copyB(event, fakeContext());
    expect(b).toMatchObject({ status: 'succeeded' });
    // B settled the segment; q is still queued, so the run is live. A's request now answers 404.
    expect((await ledger.getRun('loser-budget', 'r1'))?.status).toBe('running');
    aTask.release();
    await a;
    expect(hits('x')).toBe(2);
    expect((await ledger.getRun('loser-budget', 'r1'))?.status).toBe('running');
    await c.drain(c.workerOf(c.container(IdempotencyModes.MESSAGE)));
    expect(hits('q')).toBe(1);
    const run = await ledger.getRun('loser-budget', 'r1');
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(run?.reason).toBeUndefined();
    expect(run?.segmentFailure).toBeUndefined();
    expect(counts(run)).toEqual({
      submitted: 2,
      succeeded: 2,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });
});
