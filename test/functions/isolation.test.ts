import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import {
  MESSAGE_VERSION,
  MessageKinds,
  readDeadLetterBody,
  type TaskMessage,
} from '../../lib/fanout/messages.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { localCredentials } from '../../local/resources.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

// Issue 12: one task SQS refuses never takes its neighbours with it. The fault is SQS's own: the queues of
// this file get the smallest MaximumMessageSize SQS allows (1,024 bytes), so any message over it is refused
// as the sender's fault (InvalidParameterValue), exactly as SQS refuses a body with a character it does not
// take. One task with a 1,500-byte body can never fit; every message holding it is refused until it stands
// alone. The real orchestrator and worker handlers, the chosen backend, a real server on 127.0.0.1.

quietPowertools();

const LIMIT = 1024;
const REFUSED = /InvalidParameterValue.*shorter than 1024 bytes/;

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let s3: S3Client;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
let worker: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  // 503: a retryable failure, so the worker sends it on (a 404 would be dead-lettered at once).
  server.script((req) => (req.path.includes('/fail/') ? { status: 503 } : undefined));
  h = await startHarness({ inlineConcurrency: 4, enqueueConcurrency: 2, maxReceiveCount: 3 });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  orchestrator = createOrchestratorHandler(() => runtime);
  worker = createWorkerHandler(() => runtime) as typeof worker;
  s3 = new S3Client({ region: 'us-east-1', credentials: localCredentials, forcePathStyle: true });
});

afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  s3?.destroy();
  h?.destroy();
});

async function limitQueue(queueUrl: string, bytes: number) {
  await h.sqs.send(
    new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { MaximumMessageSize: String(bytes) } }),
  );
}

const url = (id: string, fail = false) => `${server.url}/${fail ? 'fail/' : ''}${id}`;
const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;

async function queued(): Promise<TaskMessage[]> {
  return (await drainQueue(h.sqs, h.resources.queueUrl)).map((m) => JSON.parse(m.Body!) as TaskMessage);
}

async function deadLettered() {
  const bodies = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
  return bodies.flatMap((m) => {
    const body = readDeadLetterBody(m.Body!);
    return body.kind === 'dead-letter' ? body.message.tasks : [];
  });
}

async function resultRecords(result: OrchestratorResult) {
  if (result.status !== 'succeeded' && result.status !== 'failed') throw new Error(result.status);
  const object = await s3.send(new GetObjectCommand({ Bucket: h.resources.bucket, Key: result.resultKey! }));
  return (await object.Body!.transformToString())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('one task SQS refuses, among 49 it takes', () => {
  it('orchestrator: the refused message is split until the task at fault stands alone; only it is dead-lettered', async () => {
    await limitQueue(h.resources.queueUrl, LIMIT);
    const tasks = Array.from({ length: 50 }, (_, i) => ({
      id: `q${i}`,
      url: url(`q${i}`),
      ...(i === 17 ? { method: 'POST', body: 'x'.repeat(1500) } : {}),
    }));
    const result = await orchestrator(
      { jobId: 'iso', limits: { tasksPerMessage: 25 }, tasks },
      fakeContext(),
    );
    if (result.status !== 'succeeded' && result.status !== 'failed') throw new Error(result.status);
    const { counts } = result.summary;
    expect([counts.read, counts.enqueued, counts.deadLettered, counts.undeliverable]).toEqual([50, 49, 1, 0]);

    const messages = await queued();
    expect(messages.length).toBe(counts.messages);
    const ids = messages.flatMap((m) => m.tasks.map((t) => t.id));
    expect(ids.sort()).toEqual(
      tasks
        .filter((t) => t.id !== 'q17')
        .map((t) => t.id)
        .sort(),
    );
    for (const m of messages) expect(Buffer.byteLength(JSON.stringify(m))).toBeLessThanOrEqual(LIMIT);
    // Halves take keys derived from the whole's: unique, and the same on a re-run.
    const keys = messages.map((m) => m.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.every((k) => /^iso:[^:]+:\d+(\/[01])*$/.test(k))).toBe(true);

    const dead = await deadLettered();
    expect(dead.map((d) => [d.task.id, d.attempts])).toEqual([['q17', 0]]);
    expect(dead[0].error).toMatch(/^not enqueued: /);
    expect(dead[0].error).toMatch(REFUSED);
    expect(dead[0].task.body).toBe('x'.repeat(1500));
  });

  it('orchestrator: a dead-letter message the DLQ refuses is split too; the record refused alone is counted undeliverable and reported by id', async () => {
    await limitQueue(h.resources.deadLetterQueueUrl, LIMIT);
    // 20 inline tasks fail with small records (their dead-letter message is far over 1,024 bytes), one
    // with a record that can never fit.
    const tasks = Array.from({ length: 21 }, (_, i) => ({
      id: `d${i}`,
      url: url(`d${i}`, true),
      mode: 'inline',
      ...(i === 9 ? { method: 'POST', body: 'y'.repeat(1500) } : {}),
    }));
    const result = await orchestrator({ jobId: 'isodlq', tasks }, fakeContext());
    expect(result.status).toBe('failed');
    if (result.status !== 'failed') return;
    const { counts } = result.summary;
    expect([counts.inlineFailed, counts.deadLettered, counts.undeliverable]).toEqual([21, 20, 1]);
    const dead = await deadLettered();
    expect(dead.map((d) => d.task.id).sort()).toEqual(
      tasks
        .map((t) => t.id)
        .filter((id) => id !== 'd9')
        .sort(),
    );
    const records = await resultRecords(result);
    const undeliverable = records.filter((r) => r.type === 'undeliverable');
    expect(undeliverable.map((r) => r.task.id)).toEqual(['d9']);
    expect(undeliverable[0].sendError).toMatch(REFUSED);
    await limitQueue(h.resources.deadLetterQueueUrl, 262_144);
  });

  it('worker: a retry message SQS refuses is split; the task refused alone is dead-lettered with the error, its neighbours retried once', async () => {
    await limitQueue(h.resources.queueUrl, LIMIT);
    const failing: JobTask[] = Array.from({ length: 12 }, (_, i) => ({
      id: `w${i}`,
      url: url(`w${i}`, true),
      mode: 'queue',
      // PUT: a big body on a method that may be repeated, so its failure is retryable.
      ...(i === 5 ? { method: 'PUT', body: 'z'.repeat(1500) } : {}),
    }));
    const message: TaskMessage = {
      v: MESSAGE_VERSION,
      kind: MessageKinds.TASKS,
      jobId: 'wiso',
      runId: 'r1',
      key: 'wiso:r1:0',
      attempt: 1,
      tasks: [...failing, { id: 'ok', url: url('ok'), mode: 'queue' }],
    };
    // Built by hand, as the poller would: the message itself is over the queue's limit now.
    const event = sqsEvent([{ MessageId: 'm1', ReceiptHandle: 'h1', Body: JSON.stringify(message) }]);
    const response = (await worker(event, fakeContext())) as SQSBatchResponse;

    expect(response.batchItemFailures).toEqual([]);
    // runHttpTask's own 4 attempts per failing task (a 503 is retried in place), one for the good one.
    for (const t of message.tasks) expect(hits(t.id)).toBe(t.id === 'ok' ? 1 : 4);
    const retries = await queued();
    expect(retries.flatMap((r) => r.tasks.map((t) => t.id)).sort()).toEqual(
      failing
        .filter((t) => t.id !== 'w5')
        .map((t) => t.id)
        .sort(),
    );
    for (const r of retries) {
      expect(r.attempt).toBe(2);
      expect(r.key).toMatch(/^wiso:r1:0#2(\/[01])+$/);
    }
    const dead = await deadLettered();
    expect(dead.map((d) => [d.task.id, d.attempts])).toEqual([['w5', 1]]);
    expect(dead[0].error).toMatch(/^not retried: /);
    expect(dead[0].error).toMatch(REFUSED);
  });

  it('worker: a dead-letter record the DLQ refuses even alone is logged as undeliverable, its neighbours dead-lettered, the record not redelivered', async () => {
    await limitQueue(h.resources.deadLetterQueueUrl, LIMIT);
    const tasks: JobTask[] = Array.from({ length: 10 }, (_, i) => ({
      id: `x${i}`,
      url: url(`x${i}`, true),
      mode: 'queue',
      ...(i === 2 ? { method: 'PUT', body: 'z'.repeat(1500) } : {}),
    }));
    const message: TaskMessage = {
      v: MESSAGE_VERSION,
      kind: MessageKinds.TASKS,
      jobId: 'wiso',
      runId: 'r1',
      key: 'wiso:r1:last',
      attempt: 3,
      tasks,
    };
    const event = sqsEvent([{ MessageId: 'm2', ReceiptHandle: 'h2', Body: JSON.stringify(message) }]);
    const response = (await worker(event, fakeContext())) as SQSBatchResponse;

    expect(response.batchItemFailures).toEqual([]);
    const dead = await deadLettered();
    expect(dead.map((d) => d.task.id).sort()).toEqual(
      tasks
        .map((t) => t.id)
        .filter((id) => id !== 'x2')
        .sort(),
    );
    for (const d of dead) expect(d.attempts).toBe(3);
    await limitQueue(h.resources.deadLetterQueueUrl, 262_144);
  });
});
