import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import {
  drainQueue,
  fakeContext,
  type Harness,
  quietPowertools,
  sqsEvent,
  startHarness,
  watchRecordRead,
} from './harness.js';

// A run's perInvocationConcurrency override reaching a worker invocation that is already running: through
// the real worker handler, its SQS batch received from the backend's queue, the run's record in the real job
// table, and a real HTTP target on 127.0.0.1 that counts what is in flight when each request arrives.

quietPowertools();

const DEPLOYED = 4;
const JOB = 'wlimits';

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;
let worker: Handler;
/** In flight at the target as each request arrived, and the test's hook into "while tasks run". */
const arrivals: number[] = [];
let onRequest: () => void = () => {};
let seq = 0;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 5 });
  server.script((req) => {
    arrivals.push(server.tally.inFlight);
    onRequest();
    const slow = /^\/slow(\d+)\//.exec(req.path);
    return slow ? { delayMs: Number(slow[1]) } : undefined;
  });
  h = await startHarness({ perInvocationConcurrency: DEPLOYED, idempotency: 'off' });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  runtime = createRuntime(h.env);
  worker = createWorkerHandler(() => runtime) as Handler;
});

afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  h?.destroy();
});

const tasks = (prefix: string, n: number, slowMs = 0): JobTask[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: `${server.url}/${slowMs ? `slow${slowMs}/` : ''}${prefix}${i}`,
    mode: 'queue',
  }));

async function startRun(runId: string): Promise<void> {
  await runtime.ledger!.startRun({
    jobId: JOB,
    runId,
    startedAt: Date.now(),
    toleratedFailurePercent: 100,
    overlap: 'allow',
  });
}

/** One message of `list`, through the queue and the worker as one SQS batch. */
async function deliver(runId: string, list: readonly JobTask[]): Promise<SQSBatchResponse> {
  const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
  const message: TaskMessage = {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: JOB,
    runId,
    key: `${JOB}:${runId}:${seq++}`,
    attempt: 1,
    tasks: list,
  };
  await h.sqs.send(
    new SendMessageCommand({ QueueUrl: h.resources.queueUrl, MessageBody: JSON.stringify(message) }),
  );
  const received = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(received).toHaveLength(1);
  return (await worker(sqsEvent(received), fakeContext())) as SQSBatchResponse;
}

describe('perInvocationConcurrency overrides in a running worker invocation', () => {
  it('a raise applies while the invocation runs, never above the deployed value', async () => {
    // Started at 1; five slow tasks (5 s each, longer than the 2 s the container caches the record). The raise
    // (to 8, past the deployed 4: the store takes it, the worker must not) lands with the first request: the
    // invocation's next look after the record is 2 s old finds it, and three more start while the first is
    // still in flight; never more than the deployed 4.
    await startRun('raise');
    await runtime.ledger!.setLimits(JOB, 'raise', { perInvocationConcurrency: 1 });
    arrivals.length = 0;
    let raised: Promise<unknown> | undefined;
    onRequest = () => {
      raised ??= runtime.ledger!.setLimits(JOB, 'raise', { perInvocationConcurrency: 8 });
    };
    server.tally.reset();
    const response = await deliver('raise', tasks('up', 5, 5_000)).finally(() => {
      onRequest = () => {};
    });
    await raised;
    expect(response.batchItemFailures).toEqual([]);
    expect(arrivals.slice(0, DEPLOYED)).toEqual([1, 2, 3, 4]);
    expect(server.tally.peakInFlight).toBe(DEPLOYED);
    expect(server.tally.requests).toBe(5);
    expect(await runtime.ledger!.getRun(JOB, 'raise')).toMatchObject({ succeeded: 5 });
  });

  it('a lowered value applies while the invocation runs: tasks started after it run alone', async () => {
    // Four slow tasks (3 s) hold the deployed 4; fast ones wait. The override (1) lands with the first
    // request; the container's reads of the record are watched, and from the one that brings it every task
    // the invocation starts finds the target with no other in flight (the four before may still be on
    // their way when it lands).
    await startRun('lower');
    arrivals.length = 0;
    const seenAt = watchRecordRead(
      runtime.aws.dynamodb,
      ['"lower"', 'perInvocationConcurrency'],
      () => arrivals.length,
      'lowerWatch',
    );
    let lowered: Promise<unknown> | undefined;
    onRequest = () => {
      lowered ??= runtime.ledger!.setLimits(JOB, 'lower', { perInvocationConcurrency: 1 });
    };
    const response = await deliver('lower', [...tasks('ls', DEPLOYED, 3_000), ...tasks('lf', 40)]).finally(
      () => {
        runtime.aws.dynamodb.middlewareStack.remove('lowerWatch');
        onRequest = () => {};
      },
    );
    await lowered;
    expect(response.batchItemFailures).toEqual([]);
    expect(arrivals.slice(0, DEPLOYED)).toEqual([1, 2, 3, 4]);
    expect(seenAt()).toBeGreaterThanOrEqual(DEPLOYED);
    const after = arrivals.slice(seenAt() + DEPLOYED);
    // Enough after it to tell (how many ran before it lands depends on the machine's load).
    expect(after.length).toBeGreaterThanOrEqual(10);
    expect(after).toEqual(Array(after.length).fill(1));
    expect(await runtime.ledger!.getRun(JOB, 'lower')).toMatchObject({ succeeded: 44 });
  });
});
