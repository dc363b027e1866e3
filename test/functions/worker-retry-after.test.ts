// A queued task whose last attempt in a delivery ends with a 429 or 503 carrying Retry-After is sent on for
// its next delivery no sooner than the server asked (SQS's DelaySeconds of the retry message), and one that
// asks for longer than SQS can delay a message is dead-lettered rather than sent back early. Real worker
// handler, the backend's queue and DLQ, a real HTTP server on 127.0.0.1; the SendMessageBatch calls the
// worker makes are read from its own SQS client's middleware stack, so no test waits out a delay.
import type { SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CountingServer,
  type RecordedRequest,
  type ScriptedReply,
  startCountingServer,
} from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import {
  type DeadLetterTask,
  MESSAGE_VERSION,
  MessageKinds,
  readDeadLetterBody,
  type TaskMessage,
} from '../../lib/fanout/messages.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

quietPowertools();

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let handler: Handler;
/** Retry-After values by request path, set per test: `/<status>/<id>` answers that status with it. */
const retryAfter = new Map<string, string>();
/** Every message the worker sent to the work queue, with its DelaySeconds (a delayed one cannot be received yet). */
const sent: { message: TaskMessage; delaySeconds: number }[] = [];
let seq = 0;

function scripted({ path }: RecordedRequest): ScriptedReply | undefined {
  const [, kind] = path.split('/');
  if (!/^\d{3}$/.test(kind)) return undefined;
  const value = retryAfter.get(path);
  return { status: Number(kind), headers: value === undefined ? {} : { 'retry-after': value } };
}

beforeAll(async () => {
  server = await startCountingServer({ script: scripted });
  h = await startHarness({ perInvocationConcurrency: 4, maxReceiveCount: 3 });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  runtime = createRuntime(h.env);
  handler = createWorkerHandler(() => runtime) as Handler;
  runtime.aws.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as SendMessageBatchCommandInput;
      if (context.commandName === 'SendMessageBatchCommand' && input.QueueUrl === h.resources.queueUrl) {
        for (const e of input.Entries ?? [])
          sent.push({
            message: JSON.parse(e.MessageBody!) as TaskMessage,
            delaySeconds: e.DelaySeconds ?? 0,
          });
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordDelays' },
  );
});

afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  h?.destroy();
});

function taskMessage(tasks: readonly JobTask[], retryDelaySeconds?: number): TaskMessage {
  const key = `rajob:run1:${seq++}`;
  const base = {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'rajob',
    runId: 'run1',
    key,
    attempt: 1,
  };
  return { ...base, tasks, ...(retryDelaySeconds === undefined ? {} : { retryDelaySeconds }) };
}

const task = (path: string): JobTask => ({ id: path, url: `${server.url}/${path}`, mode: 'queue' });

/**
 * One SQS delivery of `message` to the worker: the messages it sent on, as [key, attempt, task ids, delay],
 * and the DLQ's records.
 */
async function deliver(message: TaskMessage) {
  const event = sqsEvent([{ MessageId: message.key, ReceiptHandle: 'r', Body: JSON.stringify(message) }]);
  const before = sent.length;
  const response = (await handler(event, fakeContext())) as SQSBatchResponse;
  expect(response.batchItemFailures).toEqual([]);
  const retries = sent
    .slice(before)
    .map(({ message: m, delaySeconds }) => [m.key, m.attempt, m.tasks.map((t) => t.id), delaySeconds]);
  const dead: DeadLetterTask[] = [];
  for (const m of await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)) {
    const body = readDeadLetterBody(m.Body!);
    if (body.kind === 'dead-letter') dead.push(...body.message.tasks);
  }
  return { retries, dead };
}

describe('a queued task retried after Retry-After', () => {
  it('delays the retry message by the longest Retry-After of its tasks, seconds and HTTP-date alike', async () => {
    // Both ask for more than runHttpTask waits in an invocation (maxRetryAfterMs, 30 s): one attempt each.
    const inSeconds = task('429/seconds');
    const byDate = task('503/date');
    retryAfter.set('/429/seconds', '120');
    // The clock stands still on a whole second (Date alone is faked: timers and sockets stay real), so the
    // date read back is exactly 300 s away, as it is within a second's rounding on a real clock.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Math.ceil(Date.now() / 1000) * 1000);
    retryAfter.set('/503/date', new Date(Date.now() + 300_000).toUTCString());
    const message = taskMessage([inSeconds, byDate, task('200/ok')], 5);
    const { retries, dead } = await deliver(message).finally(() => vi.useRealTimers());
    expect(dead).toEqual([]);
    expect(retries).toEqual([[`${message.key}#2`, 2, ['429/seconds', '503/date'], 300]]);
    expect(server.requests.filter((r) => r.path !== '/200/ok').length).toBe(2);
  }, 30_000);

  it('keeps the job’s own delay when it is the longer, and the Retry-After when the job has none', async () => {
    retryAfter.set('/429/short', '40');
    const longer = taskMessage([task('429/short')], 60);
    expect((await deliver(longer)).retries).toEqual([[`${longer.key}#2`, 2, ['429/short'], 60]]);
    const none = taskMessage([task('429/short')]);
    expect((await deliver(none)).retries).toEqual([[`${none.key}#2`, 2, ['429/short'], 40]]);
  }, 30_000);

  it('dead-letters a task whose Retry-After is beyond SQS’s 900 s, its neighbour retried as before', async () => {
    retryAfter.set('/429/far', '1200');
    const message = taskMessage([task('429/far'), task('503/near')]);
    const { retries, dead } = await deliver(message);
    expect(retries).toEqual([[`${message.key}#2`, 2, ['503/near'], 0]]);
    expect(dead.map((d) => [d.task.id, d.attempts, d.status])).toEqual([['429/far', 1, 429]]);
    expect(dead[0].error).toMatch(/Retry-After of 1200 s is beyond SQS's longest delay \(900 s\)/);
  }, 30_000);
});
