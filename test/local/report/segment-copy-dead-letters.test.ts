// A local run's report lists the dead-lettered tasks it reads from the DLQ (local/report/dead-lettered.ts). When
// an orchestrator segment runs twice, only the copy whose `segment:<n>` settle counted is the run's: a losing
// copy's dead letters stay in the DLQ (carrying its copy) but were never counted, and the winner may have run
// those tasks to success. The list must leave them out, or it names a task failed that the counts have
// succeeded; a dead letter of a segment no copy has settled yet is kept (whether it counts is still open).
// Two copies through the real handlers against the backend's queues and tables and a real HTTP target on
// 127.0.0.1 (as test/functions/segment-copies.test.ts drives them), then the report's own reads of the DLQ and
// the ledger. Copy A runs first and is held at its settle: `x` answers its first request 404, so A
// dead-letters it. Copy B then runs and settles, counted: x succeeds, `y` (404 after its first request)
// is dead-lettered. A settles, not counted.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../../functions/runtime.js';
import { EnvVars } from '../../../lib/config.js';
import { readDeadLetters } from '../../../local/dead-letters.js';
import { stillDeadLettered } from '../../../local/report/dead-lettered.js';
import { type Containers, startContainers } from '../../functions/containers.js';
import { drainQueue, fakeContext, quietPowertools } from '../../functions/harness.js';
import { counts } from '../../functions/run-outcome.js';
import { pathCounts } from '../../helpers/path-counts.js';

quietPowertools();

let c: Containers;
let server: CountingServer;
const runtimes: FunctionRuntime[] = [];
const nth = pathCounts();

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => {
    const n = nth(req.path);
    if (req.path.includes('/first404/') && n === 1) return { status: 404 };
    if (req.path.includes('/notfirst/') && n > 1) return { status: 404 };
    return undefined;
  });
  c = await startContainers({ perInvocationConcurrency: 4, deadlineMarginMs: 1000 });
});

afterAll(async () => {
  for (const rt of runtimes) await rt.destroy();
  await c?.destroy();
  await server?.close();
});

/** A held call: `reached` resolves when the copy gets to it; it goes on once released. */
function settleGate() {
  let reach = () => {};
  let release = () => {};
  const reached = new Promise<void>((r) => {
    reach = r;
  });
  const released = new Promise<void>((r) => {
    release = r;
  });
  const arrive = () => {
    reach();
    return released;
  };
  return { reached, release, arrive };
}

/**
 * An orchestrator in a container of its own with no idempotency table (a retried segment runs again, as after
 * a timeout in AWS); with a gate, its first settle of segment 0 waits there until released.
 */
async function orchestratorCopy(gate?: ReturnType<typeof settleGate>) {
  const { createRuntime } = await import('../../../functions/runtime.js');
  const { createOrchestratorHandler } = await import('../../../functions/orchestrator.js');
  const rt = createRuntime({ ...c.h.env, [EnvVars.IDEMPOTENCY_TABLE]: '' });
  runtimes.push(rt);
  let held = false;
  const hold =
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) =>
    async (args: { input: unknown }) => {
      const settle = /TransactWrite/.test(context.commandName ?? '');
      if (gate && !held && settle && JSON.stringify(args.input).includes('segment:0')) {
        held = true;
        await gate.arrive();
      }
      return next(args);
    };
  rt.aws.dynamodb.middlewareStack.add(hold as never, { step: 'initialize', name: 'gateSettle' });
  return createOrchestratorHandler(() => rt);
}

/** The report's list of a run's dead-lettered tasks, read as a local run's report reads it. */
async function reportList(jobId: string, runId: string) {
  const { h, ledger } = c;
  const deadLetters = await readDeadLetters(h.sqs, h.resources.deadLetterQueueUrl, { jobId, runId });
  const run = await ledger.getRun(jobId, runId);
  const listed = await stillDeadLettered(deadLetters.listed, {
    run,
    backend: inject('backend'),
    resources: h.resources,
    config: h.config,
  });
  return { run, ids: listed.map((t) => t.id).sort(), inQueue: deadLetters.listed.map((t) => t.id).sort() };
}

describe('the local report of a run whose segment ran twice', () => {
  it('leaves out the losing copy’s dead letters, keeps one of a segment not settled yet', async () => {
    await drainQueue(c.h.sqs, c.h.resources.deadLetterQueueUrl);
    const url = (id: string, kind: string) => `${server.url}/${kind}/${id}`;
    const tasks = [
      { id: 'x', url: url('x', 'first404'), mode: 'inline' },
      { id: 'y', url: url('y', 'notfirst'), mode: 'inline' },
      { id: 'z', url: url('z', 'ok'), mode: 'inline' },
    ];
    const event = { jobId: 'report-copies', runId: 'r1', tasks, toleratedFailurePercent: 100 };
    const gate = settleGate();
    const a = (await orchestratorCopy(gate))(event, fakeContext());
    await gate.reached;
    // No copy has settled segment 0: A's dead letter of x may yet count, so it is listed.
    expect((await reportList('report-copies', 'r1')).ids).toEqual(['x']);

    const b = await (await orchestratorCopy())(event, fakeContext());
    expect(b).toMatchObject({ status: 'succeeded' });
    gate.release();
    await a;
    const { run, ids, inQueue } = await reportList('report-copies', 'r1');
    expect(counts(run)).toMatchObject({ submitted: 3, succeeded: 2, deadLettered: 1 });
    // The DLQ holds A's dead letter of x (a loser's) and B's of y; only B's is the run's.
    expect(inQueue).toEqual(['x', 'y']);
    expect(ids).toEqual(['y']);
    expect(ids.length).toBe(run?.deadLettered);
  });
});
