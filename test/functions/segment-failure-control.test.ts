import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars } from '../../lib/config.js';
import { type Containers, startContainers } from './containers.js';
import { fakeContext, quietPowertools } from './harness.js';
import { counts } from './run-outcome.js';

// A segment's failure kept by its settle (RunRecord.segmentFailure) while its orchestrator dies before making it
// the run's status (between the settle's transaction and afterSettle: a timeout, a throttled write), through the
// real handlers against the backend and a real HTTP target on 127.0.0.1. The orchestrator enqueued ten tasks,
// then its inline task failed and tripped a budget of 0%, whose immediate write was refused. The fleet must stop on the workers' reads of the
// record (every 2 s), as it did when the orchestrator wrote `failed` before its settle: the workers' settles of
// successes go unread, so none of them would make the run failed before its last.

quietPowertools();

let c: Containers;
let server: CountingServer;
const runtimes: FunctionRuntime[] = [];

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => (req.path.endsWith('/x') ? { status: 404 } : undefined));
  c = await startContainers({ perInvocationConcurrency: 4, deadlineMarginMs: 1000 });
});

afterAll(async () => {
  for (const rt of runtimes) await rt.destroy();
  await c?.destroy();
  await server?.close();
});

/**
 * An orchestrator whose write of its budget's trip is refused, and whose DynamoDB calls fail once its segment's
 * settle went through: it died there.
 */
async function dyingAfterSettle() {
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  const rt = createRuntime({ ...c.h.env, [EnvVars.IDEMPOTENCY_TABLE]: '' });
  runtimes.push(rt);
  let settled = false;
  const die =
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) =>
    async (args: { input: unknown }) => {
      if (settled) throw new Error('the orchestrator died after its settle');
      const input = JSON.stringify(args.input);
      // The budget's trip written at once (functions/fleet-budget.ts) is refused, as a throttled write is.
      if (/UpdateItem/.test(context.commandName ?? '') && input.includes('failure-budget'))
        throw Object.assign(new Error('throttled: the trip not written'), { name: 'ThrottlingException' });
      const out = await next(args);
      settled ||= /TransactWrite/.test(context.commandName ?? '') && input.includes('segment:0');
      return out;
    };
  rt.aws.dynamodb.middlewareStack.add(die as never, { step: 'initialize', name: 'dieAfterSettle' });
  return createOrchestratorHandler(() => rt);
}

describe('a segment failure whose orchestrator died after its settle', () => {
  it('stops the fleet: the workers run none of the queued tasks, and the run ends failed', async () => {
    const queued = Array.from({ length: 10 }, (_, i) => ({
      id: `q${i}`,
      url: `${server.url}/q${i}`,
      mode: 'queue',
    }));
    const tasks = [...queued, { id: 'x', url: `${server.url}/x`, mode: 'inline' }];
    const event = { jobId: 'died-settled', runId: 'r1', tasks, toleratedFailurePercent: 0 };
    const orchestrator = await dyingAfterSettle();
    await expect(orchestrator(event, fakeContext())).rejects.toThrow(/died after its settle/);
    const left = await c.ledger.getRun('died-settled', 'r1');
    // Left running: the trip is in the record's counts (and in its segmentFailure when the trip's judgement
    // answered before the segment's end), and nothing made it the run's status.
    expect(left).toMatchObject({ status: 'running', deadLettered: 1 });
    await c.drain(c.workerOf(c.container('off')));
    expect(server.requests.filter((r) => /\/q\d+$/.test(r.path))).toHaveLength(0);
    const run = await c.ledger.getRun('died-settled', 'r1');
    expect(run).toMatchObject({ status: 'failed', reason: 'failure-budget' });
    expect(run?.finishedAt).toBeDefined();
    expect(counts(run)).toEqual({
      submitted: 11,
      succeeded: 0,
      deadLettered: 1,
      undeliverable: 0,
      invalid: 0,
      cancelled: 10,
    });
  });
});
