import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import { functionLogger } from '../../functions/function-logger.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import { onOrchestratorFailure } from '../../functions/orchestrator-failure.js';
import { runLedgerOf } from '../../functions/run-ledger.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { failureRecord } from '../../local/async-destinations.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { orchestratorContainers } from './orchestrator-containers.js';

// The orchestrator's last segment settles the run complete (its manifest read, every task ended), and its
// invocation fails before the run is ended: the end's conditional write (JobLedger.finish) meets a passing
// DynamoDB fault, as a crash or a timeout right after the settle would leave it. Lambda retries the event. Through
// the real orchestrator handler, the real job and idempotency tables and a real HTTP target on 127.0.0.1; the
// fault is a middleware on the runtime's real DynamoDB client that fails that one write, once.

quietPowertools();

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
const containers = orchestratorContainers(() => h);

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  h = await startHarness({});
  ({ runtime: runtime, orchestrator } = await containers.container());
});

afterAll(async () => {
  await containers.destroy();
  await server?.close();
  h?.destroy();
});

/** Fails the next write that ends a run (its condition names finishedAt and manifestDone), once. */
function failNextFinish(name: string): () => number {
  let failed = 0;
  runtime.aws.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ConditionExpression?: string };
      const finish = /attribute_not_exists\(#finishedAt\) AND #manifestDone = :done/.test(
        input.ConditionExpression ?? '',
      );
      if (failed === 0 && context.commandName === 'UpdateItemCommand' && finish) {
        failed++;
        throw Object.assign(new Error('simulated: connection reset before the run was ended'), {
          name: 'TimeoutError',
        });
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return () => failed;
}

describe("the orchestrator's last settle, its invocation failed before the run was ended", () => {
  it("Lambda's retry ends the run: succeeded with exact counts, and the job's next run starts (forbid)", async () => {
    const jobId = 'last-settle';
    const tasks = Array.from({ length: 3 }, (_, i) => ({
      id: `t${i}`,
      url: `${server.url}/t${i}`,
      mode: 'inline',
    }));
    const event = { jobId, runId: 'r1', tasks };
    const failures = failNextFinish('failFinish');
    try {
      await expect(orchestrator(event, fakeContext())).rejects.toThrow('simulated: connection reset');
    } finally {
      runtime.aws.dynamodb.middlewareStack.remove('failFinish');
    }
    expect(failures()).toBe(1);
    // The settle counted: the run is complete, not ended.
    expect(await runtime.ledger!.getRun(jobId, 'r1')).toMatchObject({
      status: 'running',
      manifestDone: true,
      submitted: 3,
      succeeded: 3,
    });
    // Lambda's retry of the failed asynchronous invocation: the same event.
    await orchestrator(event, fakeContext());
    const ended = await runtime.ledger!.getRun(jobId, 'r1');
    expect(ended).toMatchObject({ status: 'succeeded', submitted: 3, succeeded: 3 });
    expect(ended?.finishedAt).toEqual(expect.any(Number));
    expect(ended?.announcedAt).toEqual(expect.any(Number));
    expect(server.requests.length).toBe(3);
    // The schedule's next run is not skipped behind a run left `running`.
    const next = await orchestrator({ jobId, runId: 'r2', tasks: [] }, fakeContext());
    expect(next.status).not.toBe('skipped');
    expect(await runtime.ledger!.getRun(jobId, 'r2')).toMatchObject({ status: 'succeeded' });
  });

  it("every attempt failed after the settle: Lambda's failure report ends the run", async () => {
    const jobId = 'last-settle-report';
    const event = { jobId, runId: 'r1', tasks: [{ id: 't0', url: `${server.url}/t0`, mode: 'inline' }] };
    const failures = failNextFinish('failFinishReport');
    try {
      await expect(orchestrator(event, fakeContext())).rejects.toThrow('simulated: connection reset');
    } finally {
      runtime.aws.dynamodb.middlewareStack.remove('failFinishReport');
    }
    expect(failures()).toBe(1);
    const error = new Error('simulated: connection reset before the run was ended');
    const record = failureRecord({
      functionName: 'orchestrator',
      payload: event,
      requestId: 'q1',
      error,
      attempts: 3,
    });
    const logger = functionLogger('last-settle');
    const answer = await onOrchestratorFailure(record, runtime, runLedgerOf(runtime, logger), logger);
    expect(answer).toMatchObject({ broken: false, jobId, runId: 'r1', segment: 0 });
    expect(await runtime.ledger!.getRun(jobId, 'r1')).toMatchObject({
      status: 'succeeded',
      submitted: 1,
      succeeded: 1,
      finishedAt: expect.any(Number),
    });
  });
});
