// How the worker settles failed tasks, against a real SQS queue and DynamoDB table (the chosen backend) and a
// real HTTP server on 127.0.0.1 that counts requests per task: a permanent failure is sent once and
// dead-lettered on its first delivery; a retryable one goes round maxReceiveCount deliveries; against a host
// that never answers, the worker stops starting attempts it cannot finish before its deadline, hands the
// unstarted tasks on without spending their attempt, and settles every message itself. The test plays the
// SQS event source: receive, invoke, delete what succeeded, make the failed records visible again.
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CountingServer,
  type RecordedRequest,
  type ScriptedReply,
  startCountingServer,
} from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { FanoutConfig } from '../../lib/config.js';
import {
  type DeadLetterTask,
  MESSAGE_VERSION,
  MessageKinds,
  readDeadLetterBody,
  type TaskMessage,
} from '../../lib/fanout/messages.js';
import { taskWindowMs } from '../../lib/fanout/settle-reserve.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

quietPowertools();

const MAX_RECEIVE = 3;
const PER_INVOCATION = 4;
/** Every attempt's timeout, from the config (requestTimeoutMs): short, so a stalled host costs a second. */
const REQUEST_TIMEOUT_MS = 1_000;

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let h: Harness;
let server: CountingServer;
const runtimes: FunctionRuntime[] = [];
let seq = 0;

// /<status>/<id> answers that status; /stall/<id> never answers; /reset/<id> resets the connection.
function scripted({ path }: RecordedRequest): ScriptedReply | undefined {
  const [, kind] = path.split('/');
  if (kind === 'stall') return { stall: 'headers' };
  if (kind === 'reset') return { reset: true };
  if (/^\d{3}$/.test(kind)) return { status: Number(kind), headers: { 'retry-after': '0' } };
  return undefined;
}

beforeAll(async () => {
  server = await startCountingServer({ script: scripted });
  h = await startHarness({
    perInvocationConcurrency: PER_INVOCATION,
    maxReceiveCount: MAX_RECEIVE,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
});

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy();
  await server?.close();
  h?.destroy();
});

/** A worker handler on a runtime of the harness's config with `overrides`. */
async function worker(overrides: Partial<FanoutConfig> = {}): Promise<Handler> {
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const config = JSON.parse(h.env.BOUNDED_FANOUT_CONFIG!);
  const runtime = createRuntime({
    ...h.env,
    BOUNDED_FANOUT_CONFIG: JSON.stringify({ ...config, ...overrides }),
  });
  runtimes.push(runtime);
  return createWorkerHandler(() => runtime) as Handler;
}

function taskMessage(tasks: readonly JobTask[]): TaskMessage {
  return {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'sjob',
    runId: 'run1',
    key: `sjob:run1:${seq++}`,
    attempt: 1,
    tasks,
  };
}

const task = (path: string, extra: Partial<JobTask> = {}): JobTask => ({
  id: path,
  url: `${server.url}/${path}`,
  mode: 'queue',
  ...extra,
});

const hits = (path: string) => server.requests.filter((r) => r.path === `/${path}`).length;

/**
 * Plays the event source until the queue is empty: each round receives up to 10 messages, invokes the
 * handler with a fresh context of `timeoutMs`, deletes the records it settled and makes the failed ones
 * visible again. Resolves to the number of invocations.
 */
async function drive(handler: Handler, timeoutMs = 60_000, maxRounds = 30): Promise<number> {
  const QueueUrl = h.resources.queueUrl;
  let invocations = 0;
  for (let empty = 0; empty < 2 && invocations < maxRounds; ) {
    const { Messages = [] } = await h.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 30,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    invocations++;
    const end = Date.now() + timeoutMs;
    const context = fakeContext(() => Math.max(0, end - Date.now()));
    const response = (await handler(sqsEvent(Messages), context)) as SQSBatchResponse;
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    for (const m of Messages) {
      const ReceiptHandle = m.ReceiptHandle!;
      if (failed.has(m.MessageId!)) {
        await h.sqs.send(
          new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout: 0 }),
        );
      } else await h.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle }));
    }
  }
  return invocations;
}

async function send(message: TaskMessage): Promise<void> {
  await h.sqs.send(
    new SendMessageCommand({ QueueUrl: h.resources.queueUrl, MessageBody: JSON.stringify(message) }),
  );
}

/** Everything in the DLQ: the dead-letter records by task id, and any body that is not one (a raw message). */
async function deadLetterQueue() {
  const records: DeadLetterTask[] = [];
  const raw: string[] = [];
  for (const m of await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)) {
    const body = readDeadLetterBody(m.Body!);
    if (body.kind === 'dead-letter') records.push(...body.message.tasks);
    else raw.push(m.Body!);
  }
  return { records, raw };
}

describe('worker settlement: permanent failures', () => {
  it('sends each permanent failure once and dead-letters it on delivery 1 with attempts 1', async () => {
    const handler = await worker();
    const permanent = [
      task('404/a'),
      task('400/a'),
      task('401/a'),
      task('410/a'),
      task('422/a'),
      task('500/post', { method: 'POST', body: '{}' }),
    ];
    // A request undici refuses (transfer-encoding, a non-Latin-1 value) no longer gets this far: the
    // manifest schema refuses it (test/lib/manifest/headers-sent.test.ts), and so does the worker's message
    // schema, so there is no invalid request left to send here.
    const ok = task('200/ok');
    await send(taskMessage([...permanent, ok]));
    expect(await drive(handler)).toBe(1);

    expect(permanent.map((t) => [t.id, hits(t.id)])).toEqual(permanent.map((t) => [t.id, 1]));
    expect(hits('200/ok')).toBe(1);
    const { records, raw } = await deadLetterQueue();
    expect(raw).toEqual([]);
    expect(records.map((r) => [r.task.id, r.attempts, r.status ?? 0])).toEqual(
      permanent.map((t) => [t.id, 1, Number(t.id.slice(0, 3))]),
    );
  }, 60_000);

  it('dead-letters a refused destination on delivery 1 with attempts 1, nothing sent', async () => {
    const handler = await worker({ allowHosts: [] });
    const refused = task('200/refused');
    await send(taskMessage([refused]));
    expect(await drive(handler)).toBe(1);
    expect(hits('200/refused')).toBe(0);
    const { records, raw } = await deadLetterQueue();
    expect(raw).toEqual([]);
    expect(records.map((r) => [r.task.id, r.attempts])).toEqual([['200/refused', 1]]);
    expect(records[0].error).toMatch(
      /^BF_DESTINATION_REFUSED: Destination refused: 127\.0\.0\.1 is loopback/,
    );
  }, 60_000);
});

describe('worker settlement: retryable failures', () => {
  it('sends a 503 and a reset round maxReceiveCount deliveries, then dead-letters them with attempts maxReceiveCount', async () => {
    const handler = await worker();
    const retryable = [task('503/r'), task('reset/r')];
    await send(taskMessage([...retryable, task('200/r')]));
    expect(await drive(handler)).toBe(MAX_RECEIVE);
    // runHttpTask's own 4 attempts in each delivery.
    expect(retryable.map((t) => hits(t.id))).toEqual([4 * MAX_RECEIVE, 4 * MAX_RECEIVE]);
    expect(hits('200/r')).toBe(1);
    const { records, raw } = await deadLetterQueue();
    expect(raw).toEqual([]);
    expect(records.map((r) => [r.task.id, r.attempts]).sort()).toEqual([
      ['503/r', MAX_RECEIVE],
      ['reset/r', MAX_RECEIVE],
    ]);
  }, 60_000);
});

describe('worker settlement: a host that never answers', () => {
  it('times an attempt out at the configured requestTimeoutMs', async () => {
    const handler = await worker();
    // A POST is not retried: one attempt, timed out by the config's value (not runHttpTask's 10 s default).
    const out = (await handler(taskMessage([task('stall/post', { method: 'POST' })]), fakeContext())) as {
      results: { ok: boolean; error: string; attempts: number }[];
    };
    expect(out.results).toEqual([
      expect.objectContaining({
        ok: false,
        attempts: 1,
        error: `BF_TIMEOUT: Attempt of task stall/post timed out after ${REQUEST_TIMEOUT_MS} ms`,
      }),
    ]);
  }, 30_000);

  it('invoke mode answers before its deadline: the tasks it had no time to start say so, unsent', async () => {
    const handler = await worker();
    const tasks = Array.from({ length: 6 }, (_, i) => task(`stall/invoke${i}`));
    // The invocation's clock is the test's (Date alone is faked: timers and sockets stay real). On the real
    // clock, with 2 s left, the first 4 tasks had to start within 0.8 s; a cold container on a loaded machine
    // took 0.9 s (its first idempotency write and ledger read) and started none. Here 20 s are left (18 s for
    // tasks) and the clock stands still until the 4th attempt reaches the target, then jumps to half an
    // attempt before the deadline: when those 4 time out (1 s later, real), no attempt fits any more.
    vi.useFakeTimers({ toFake: ['Date'] });
    const end = Date.now() + 20_000;
    const deadline = Date.now() + taskWindowMs(20_000);
    let reached = 0;
    server.script((request) => {
      if (request.path.startsWith('/stall/invoke') && ++reached === PER_INVOCATION)
        vi.setSystemTime(deadline - REQUEST_TIMEOUT_MS / 2);
      return scripted(request);
    });
    const out = (await handler(
      taskMessage(tasks),
      fakeContext(() => Math.max(0, end - Date.now())),
    ).finally(() => {
      server.script(scripted);
      vi.useRealTimers();
    })) as {
      results: { id: string; ok: boolean; attempts: number; retryable?: boolean; unstarted?: boolean }[];
    };
    // 4 at once run one attempt each (no retry fits); the other 2 get a permit too late to start.
    const started = out.results.filter((r) => r.attempts === 1);
    const unstarted = out.results.filter((r) => r.unstarted);
    expect([started.length, unstarted.length, out.results.length]).toEqual([PER_INVOCATION, 2, 6]);
    expect(out.results.every((r) => !r.ok && r.retryable === true)).toBe(true);
    expect(unstarted.every((r) => r.attempts === 0 && hits(r.id) === 0)).toBe(true);
    expect(started.every((r) => hits(r.id) === 1)).toBe(true);
  }, 30_000);

  it('dead-letters at once a task whose one attempt cannot fit in a whole invocation, sending nothing', async () => {
    const handler = await worker();
    await send(taskMessage([task('stall/long', { timeoutMs: 5_000 })]));
    expect(await drive(handler, 2_000)).toBe(1);
    expect(hits('stall/long')).toBe(0);
    const { records, raw } = await deadLetterQueue();
    expect(raw).toEqual([]);
    // The time left for tasks is the fake context's remaining time when the invocation began (just under 2 s),
    // less its settle reserve (a quarter of it: lib/fanout/settle-reserve.ts).
    expect(records.map((r) => [r.task.id, r.attempts])).toEqual([['stall/long', 1]]);
    expect(records[0].error).toMatch(
      /^BF_DEADLINE: not started: an attempt of 5000 ms does not fit in the 1[45]\d\d ms an invocation has for tasks$/,
    );
  }, 60_000);

  it('starts no attempt it cannot finish, hands the rest on unspent, and dead-letters each task once', async () => {
    const handler = await worker();
    // 6 tasks, 4 at once, 2 s invocations (1.5 s for tasks, 0.5 s kept to settle), 1 s attempts: 4 tasks
    // start at once and none can retry; the other 2 get a permit after 1 s, too late to start, and are
    // handed on with their attempt. So each task is started in exactly maxReceiveCount deliveries, one
    // request each, whatever the order the queue gives the messages back in.
    const tasks = Array.from({ length: 6 }, (_, i) => task(`stall/${i}`));
    await send(taskMessage(tasks));
    const invocations = await drive(handler, 2_000);
    expect(invocations).toBeGreaterThanOrEqual(Math.ceil((tasks.length * MAX_RECEIVE) / PER_INVOCATION));
    expect(tasks.map((t) => hits(t.id))).toEqual(tasks.map(() => MAX_RECEIVE));
    const { records, raw } = await deadLetterQueue();
    expect(raw).toEqual([]);
    expect(records.map((r) => [r.task.id, r.attempts]).sort()).toEqual(
      tasks.map((t) => [t.id, MAX_RECEIVE]).sort(),
    );
    // Timed out by undici, or by the invocation's abort when undici's coarse timer fired late.
    expect(records.filter((r) => !/^BF_(TIMEOUT|ABORTED): /.test(r.error))).toEqual([]);
  }, 120_000);
});
