import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import {
  MESSAGE_VERSION,
  MessageKinds,
  readDeadLetterBody,
  type TaskMessage,
} from '../../lib/fanout/messages.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

// The worker handler against a real SQS queue and DynamoDB table (the chosen backend: fauxqs and dynalite
// in process by default) and a real HTTP server on 127.0.0.1 that counts requests in flight.

quietPowertools();

const PER_INVOCATION = 4;
const MAX_RECEIVE = 3;

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let handler: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;
let seq = 0;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 5 });
  // A retryable failure, retried at once by runHttpTask (Retry-After 0) up to its 4 attempts per delivery.
  server.script((req) =>
    req.path.includes('/fail/') ? { status: 503, headers: { 'retry-after': '0' }, body: 'busy' } : undefined,
  );
  h = await startHarness({ perInvocationConcurrency: PER_INVOCATION, maxReceiveCount: MAX_RECEIVE });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  runtime = createRuntime(h.env);
  handler = createWorkerHandler(() => runtime) as typeof handler;
});

afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  h?.destroy();
});

function taskMessage(tasks: readonly JobTask[], attempt = 1): TaskMessage {
  return {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'wjob',
    runId: 'run1',
    key: `wjob:run1:${seq++}`,
    attempt,
    tasks,
  };
}

const task = (id: string, fail = false): JobTask => ({
  id,
  url: `${server.url}/${fail ? 'fail/' : ''}${id}`,
  mode: 'queue',
});

async function enqueueAndReceive(bodies: readonly string[]) {
  for (let i = 0; i < bodies.length; i += 10) {
    const Entries = bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody }));
    await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries }));
  }
  const received = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(received).toHaveLength(bodies.length);
  return received;
}

const hits = (path: string) => server.requests.filter((r) => r.path === path).length;

describe('worker on SQS batches', () => {
  it('runs the tasks of a batch with bounded concurrency, fails only the malformed messages, retries only failed tasks', async () => {
    server.tally.reset();
    const messages = Array.from({ length: 6 }, (_, m) =>
      taskMessage(Array.from({ length: 8 }, (_, t) => task(`b${m}-${t}`, t === 3 || (m === 2 && t === 6)))),
    );
    const received = await enqueueAndReceive([
      ...messages.map((m) => JSON.stringify(m)),
      'not json',
      JSON.stringify({ v: 1, kind: 'tasks', jobId: 'wjob' }),
    ]);
    const byBody = new Map(received.map((m) => [m.Body, m.MessageId]));
    const response = (await handler(sqsEvent(received), fakeContext())) as SQSBatchResponse;

    const invalidIds = [
      byBody.get('not json'),
      byBody.get(JSON.stringify({ v: 1, kind: 'tasks', jobId: 'wjob' })),
    ];
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(invalidIds.sort());
    // Bounded across the whole batch, counted on the server, and the bound is reached.
    expect(server.tally.peakInFlight).toBe(PER_INVOCATION);
    for (const m of messages) {
      for (const t of m.tasks) expect(hits(new URL(t.url).pathname)).toBe(t.url.includes('/fail/') ? 4 : 1);
    }

    const retries = (await drainQueue(h.sqs, h.resources.queueUrl)).map(
      (m) => JSON.parse(m.Body!) as TaskMessage,
    );
    const expected = messages
      .map((m) => ({
        key: `${m.key}#2`,
        ids: m.tasks.filter((t) => t.url.includes('/fail/')).map((t) => t.id),
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
    expect(
      retries
        .map((r) => ({ key: r.key, ids: r.tasks.map((t) => t.id) }))
        .sort((a, b) => a.key.localeCompare(b.key)),
    ).toEqual(expected);
    for (const r of retries) expect(r.attempt).toBe(2);
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toHaveLength(0);
  });

  it('settles a message delivered twice once: no task runs again, failed tasks are re-sent once', async () => {
    const message = taskMessage([task('d1'), task('d2'), task('d3', true)]);
    const [received] = await enqueueAndReceive([JSON.stringify(message)]);
    const first = (await handler(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
    const second = (await handler(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect([hits('/d1'), hits('/d2')]).toEqual([1, 1]);
    // The message was settled once: the second delivery runs nothing and re-sends nothing.
    expect(hits('/fail/d3')).toBe(4);
    const retries = (await drainQueue(h.sqs, h.resources.queueUrl)).map(
      (m) => JSON.parse(m.Body!) as TaskMessage,
    );
    expect(retries.map((r) => [r.key, r.tasks.map((t) => t.id)])).toEqual([[`${message.key}#2`, ['d3']]]);
  });

  it('dead-letters only the failed tasks, with their last error, after the last attempt', async () => {
    const message = taskMessage([task('x1'), task('x2', true), task('x3')], MAX_RECEIVE);
    const [received] = await enqueueAndReceive([JSON.stringify(message)]);
    const response = (await handler(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
    expect(response.batchItemFailures).toEqual([]);
    expect(await drainQueue(h.sqs, h.resources.queueUrl)).toHaveLength(0);
    const dead = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    expect(dead).toHaveLength(1);
    const body = readDeadLetterBody(dead[0].Body!);
    expect(body.kind).toBe('dead-letter');
    if (body.kind !== 'dead-letter') return;
    expect(body.message).toMatchObject({ jobId: 'wjob', runId: 'run1', source: 'worker' });
    expect(body.message.tasks).toEqual([
      { task: message.tasks[1], attempts: MAX_RECEIVE, status: 503, error: expect.stringContaining('503') },
    ]);
  });

  it('lets a malformed message reach the DLQ through SQS redrive after maxReceiveCount, alone', async () => {
    const bodies = ['{"truncated": ', JSON.stringify(taskMessage([task('n1')]))];
    // The test plays the event source poller: receive, invoke, delete what succeeded, until SQS moves the bad one.
    await h.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: h.resources.queueUrl,
        Entries: bodies.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
      }),
    );
    let invocations = 0;
    for (let round = 0; round < MAX_RECEIVE + 2; round++) {
      const { Messages = [] } = await h.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: h.resources.queueUrl,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;
      invocations++;
      const response = (await handler(sqsEvent(Messages), fakeContext())) as SQSBatchResponse;
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of Messages) {
        if (failed.has(m.MessageId!)) {
          await h.sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: h.resources.queueUrl,
              ReceiptHandle: m.ReceiptHandle!,
              VisibilityTimeout: 0,
            }),
          );
        } else {
          await h.sqs.send(
            new DeleteMessageCommand({ QueueUrl: h.resources.queueUrl, ReceiptHandle: m.ReceiptHandle! }),
          );
        }
      }
      if (round === 0) expect(failed.size).toBe(1);
    }
    expect(invocations).toBe(MAX_RECEIVE);
    const dead = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    expect(dead.map((m) => m.Body)).toEqual(['{"truncated": ']);
    expect(hits('/n1')).toBe(1);
  });
});

describe('worker on direct Invoke (invoke mode)', () => {
  it('returns one result per task, run with bounded concurrency', async () => {
    server.tally.reset();
    const tasks = Array.from({ length: 12 }, (_, i) => task(`i${i}`, i === 5));
    const out = (await handler(taskMessage(tasks), fakeContext())) as {
      results: { id: string; ok: boolean; status: number }[];
    };
    expect(out.results.map((r) => [r.id, r.ok, r.status])).toEqual(
      tasks.map((t, i) => [t.id, i !== 5, i === 5 ? 503 : 200]),
    );
    expect(server.tally.peakInFlight).toBeLessThanOrEqual(PER_INVOCATION);
  });

  it('refuses a payload that is not a task message, naming the field', async () => {
    await expect(
      handler(
        { v: 1, kind: 'tasks', jobId: 'j', runId: 'r', key: 'k', attempt: 1, tasks: 'x' },
        fakeContext(),
      ),
    ).rejects.toThrow('tasks: "x" is not an array of tasks');
  });
});

describe('worker with idempotency per message', () => {
  it('skips a whole message delivered twice', async () => {
    const { createRuntime } = await import('../../functions/runtime.js');
    const { createWorkerHandler } = await import('../../functions/worker.js');
    const config = JSON.parse(h.env.BOUNDED_FANOUT_CONFIG!);
    const perMessage = createRuntime({
      ...h.env,
      BOUNDED_FANOUT_CONFIG: JSON.stringify({ ...config, idempotency: 'message' }),
    });
    try {
      const worker = createWorkerHandler(() => perMessage);
      const message = taskMessage([task('m1'), task('m2')]);
      const [received] = await enqueueAndReceive([JSON.stringify(message)]);
      await worker(sqsEvent([received]), fakeContext());
      const again = (await worker(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
      expect(again.batchItemFailures).toEqual([]);
      expect([hits('/m1'), hits('/m2')]).toEqual([1, 1]);
    } finally {
      await perMessage.destroy();
    }
  });
});

describe('worker with idempotency off', () => {
  it('runs a message delivered twice twice: every task reaches the target again', async () => {
    const { createRuntime } = await import('../../functions/runtime.js');
    const { createWorkerHandler } = await import('../../functions/worker.js');
    const config = JSON.parse(h.env.BOUNDED_FANOUT_CONFIG!);
    const off = createRuntime({
      ...h.env,
      BOUNDED_FANOUT_CONFIG: JSON.stringify({ ...config, idempotency: 'off' }),
    });
    try {
      const worker = createWorkerHandler(() => off);
      const message = taskMessage([task('off1'), task('off2'), task('off3')]);
      const [received] = await enqueueAndReceive([JSON.stringify(message)]);
      const first = (await worker(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
      const again = (await worker(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
      expect([first.batchItemFailures, again.batchItemFailures]).toEqual([[], []]);
      expect([hits('/off1'), hits('/off2'), hits('/off3')]).toEqual([2, 2, 2]);
    } finally {
      await off.destroy();
    }
  });

  it('the same message twice through the default (task) mode runs each task once', async () => {
    const message = taskMessage([task('dt1'), task('dt2')]);
    const [received] = await enqueueAndReceive([JSON.stringify(message)]);
    await handler(sqsEvent([received]), fakeContext());
    const again = (await handler(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
    expect(again.batchItemFailures).toEqual([]);
    expect(runtime.config.idempotency).toBe('task');
    expect([hits('/dt1'), hits('/dt2')]).toEqual([1, 1]);
  });
});
