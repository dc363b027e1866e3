import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { type Containers, startContainers } from './containers.js';
import { fakeContext, type Harness, quietPowertools } from './harness.js';
import { counts } from './run-outcome.js';
import { atSettle, orchestratorCopy } from './segment-copy-gates.js';

// Two copies of one segment (a retried invocation beside the first, as after a timeout) that saw different
// outcomes, through the real handlers against the backend and a real HTTP target on 127.0.0.1. Only the copy
// whose settle counts says how the run went: a losing copy that tripped the failure budget on its own outcomes
// must not fail the run. Copy A runs first and its task `x` answers 404 (its first request), which trips a
// budget of 0%; A is held at its settle while copy B runs the same task (200) and settles first, ending the
// run; then A's settle loses.

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let ledger: JobLedger;
const runtimes: FunctionRuntime[] = [];
const seen = new Map<string, number>();

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => {
    const n = (seen.get(req.path) ?? 0) + 1;
    seen.set(req.path, n);
    return req.path.includes('/first404/') && n === 1 ? { status: 404 } : undefined;
  });
  c = await startContainers({ perInvocationConcurrency: 4, deadlineMarginMs: 1000 });
  ({ h, ledger } = c);
});

afterAll(async () => {
  for (const rt of runtimes) await rt.destroy();
  await c?.destroy();
  await server?.close();
});

describe('a losing copy of a segment', () => {
  it('that tripped the failure budget on its own outcomes does not fail the run the winner settled', async () => {
    const tasks = [{ id: 'x', url: `${server.url}/first404/x`, mode: 'inline' }];
    const event = { jobId: 'loser-budget', runId: 'r1', tasks, toleratedFailurePercent: 0 };
    const aSettle = atSettle();
    const copyA = await orchestratorCopy(h, runtimes, aSettle);
    const copyB = await orchestratorCopy(h, runtimes);
    const a = copyA(event, fakeContext());
    await aSettle.reached;
    // A's own outcome: x dead-lettered, its budget tripped; it has not settled.
    const b = await copyB(event, fakeContext());
    expect(b).toMatchObject({ status: 'succeeded' });
    aSettle.release();
    await a;
    expect(server.requests.filter((r) => r.path.endsWith('/x'))).toHaveLength(2);
    const run = await ledger.getRun('loser-budget', 'r1');
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(run?.reason).toBeUndefined();
    expect(counts(run)).toEqual({
      submitted: 1,
      succeeded: 1,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });
});
