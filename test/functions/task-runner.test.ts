// The worker's task runner in 'task' idempotency mode against the backend's DynamoDB and a real HTTP server on
// 127.0.0.1 that counts requests per task id: a task that completed is never requested again by a later
// delivery of its message (answered from its record, marked `duplicate`), a failed one runs again, a store
// that cannot be read runs nothing, and a store that cannot be written still counts the success. Through the
// worker handler: a message whose first delivery died after its tasks succeeded (its own record gone, as when
// it expires) is redelivered without one request to the target.
import { createHash } from 'node:crypto';
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import { IdempotencyUses, idempotencyKeyPrefix } from '../../functions/idempotency.js';
import { createRuntime, type FunctionRuntime } from '../../functions/runtime.js';
import { TaskRunner } from '../../functions/task-runner.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

quietPowertools();

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let runs = 0;
/** `/flaky/` tasks: 503 until the test moves on, then a slow 200 (so two runs of one would overlap). */
let flakyFixed = false;

beforeAll(async () => {
  server = await startCountingServer();
  server.script((req) => {
    if (req.path.includes('/fail/')) return { status: 404, body: 'gone' };
    if (req.path.includes('/slow/')) return { status: 200, delayMs: 200 };
    if (req.path.includes('/flaky/'))
      return flakyFixed ? { status: 200, delayMs: 200 } : { status: 503, headers: { 'retry-after': '0' } };
    return undefined;
  });
  h = await startHarness({ perInvocationConcurrency: 4, idempotency: 'task' });
  runtime = createRuntime(h.env);
});
afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  h?.destroy();
});

const task = (id: string, fail: false | 'fail' | 'flaky' | 'slow' = false): JobTask => ({
  id,
  url: `${server.url}/${fail ? `${fail}/` : ''}${id}`,
  mode: 'queue',
});
const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;
const newRun = () => `run${++runs}`;

function taskMessage(runId: string, tasks: JobTask[]): TaskMessage {
  return {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'tjob',
    runId,
    key: `tjob:${runId}:0`,
    attempt: 1,
    tasks,
  };
}

async function enqueueAndReceive(messages: readonly TaskMessage[]) {
  const Entries = messages.map((m, i) => ({ Id: String(i), MessageBody: JSON.stringify(m) }));
  await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries }));
  return drainQueue(h.sqs, h.resources.queueUrl);
}

/** Every task of a message through one runner, as the worker does. */
async function runMessage(runner: TaskRunner, runId: string, tasks: readonly JobTask[]) {
  const { run } = await runner.forMessage('tjob', runId, tasks);
  return Promise.all(tasks.map((t) => run(t)));
}

describe('TaskRunner, task mode', () => {
  it('a later delivery answers completed tasks from their records, runs failed ones again', async () => {
    const runner = new TaskRunner(runtime);
    const runId = newRun();
    const tasks = [task('a1'), task('a2'), task('a3', 'fail')];
    const first = await runMessage(runner, runId, tasks);
    expect(first.map((o) => [o.id, o.ok, o.duplicate])).toEqual([
      ['a1', true, undefined],
      ['a2', true, undefined],
      ['a3', false, undefined],
    ]);
    // Another container, as a redelivery lands on any.
    const again = await runMessage(new TaskRunner(runtime), runId, tasks);
    expect(again.map((o) => [o.id, o.ok, o.duplicate])).toEqual([
      ['a1', true, true],
      ['a2', true, true],
      ['a3', false, undefined],
    ]);
    expect(again[0]).toEqual({ ...first[0], duplicate: true });
    expect([hits('a1'), hits('a2'), hits('a3')]).toEqual([1, 1, 2]);
    // The same task ids in another run are other tasks.
    await runMessage(runner, newRun(), [task('a1')]);
    expect(hits('a1')).toBe(2);
  });

  it('a delivery that died part way: the redelivery requests only what had not completed', async () => {
    const runId = newRun();
    const tasks = ['b1', 'b2', 'b3', 'b4', 'b5'].map((id) => task(id));
    const { run: dying } = await new TaskRunner(runtime).forMessage('tjob', runId, tasks);
    await Promise.all(tasks.slice(0, 2).map((t) => dying(t)));
    const again = await runMessage(new TaskRunner(runtime), runId, tasks);
    expect(again.map((o) => o.duplicate ?? false)).toEqual([true, true, false, false, false]);
    expect(tasks.map((t) => hits(t.id))).toEqual([1, 1, 1, 1, 1]);
  });

  it('runs nothing when the records cannot be read: each task fails with the store error', async () => {
    const broken = createRuntime({
      ...h.env,
      BOUNDED_FANOUT_IDEMPOTENCY_TABLE: `${h.resources.idempotencyTable}-none`,
    });
    try {
      const outcomes = await runMessage(new TaskRunner(broken), newRun(), [task('c1'), task('c2')]);
      for (const o of outcomes) {
        expect(o).toMatchObject({ ok: false, attempts: 0 });
        expect(o.error).toMatch(/^idempotency store failed: .*(not found|non-existent|ResourceNotFound)/i);
      }
      expect([hits('c1'), hits('c2')]).toEqual([0, 0]);
    } finally {
      await broken.destroy();
    }
  });

  it('counts a success whose record could not be written as a success, and says which task', async () => {
    const failing = createRuntime(h.env);
    // A fault on the real client (a mock of one call, named as such): every BatchWriteItem fails.
    failing.aws.dynamodb.middlewareStack.add(
      (next, context) => (args) =>
        context.commandName === 'BatchWriteItemCommand'
          ? Promise.reject(new Error('write refused'))
          : next(args),
      { step: 'initialize', name: 'refuseBatchWrites' },
    );
    const told: { message: string; taskId: string; error: string }[] = [];
    try {
      const runId = newRun();
      const runner = new TaskRunner(failing, (message, details) => told.push({ message, ...details }));
      const [outcome] = await runMessage(runner, runId, [task('d1')]);
      expect(outcome).toMatchObject({ id: 'd1', ok: true });
      expect(outcome.duplicate).toBeUndefined();
      expect(told).toEqual([
        {
          message: 'task succeeded but its idempotency record was not stored: a redelivery may run it again',
          taskId: 'd1',
          error: 'Error: write refused',
        },
      ]);
      // Unrecorded, so a redelivery runs it again: the one thing lost.
      await runMessage(new TaskRunner(runtime), runId, [task('d1')]);
      expect(hits('d1')).toBe(2);
    } finally {
      await failing.destroy();
    }
  });
});

describe('the worker in task mode', () => {
  it('two copies of one dead letter, redriven in one batch: each task reaches the target once', async () => {
    const { createWorkerHandler } = await import('../../functions/worker.js');
    const worker = createWorkerHandler(() => runtime);
    const runId = newRun();
    // A dead letter sent twice (a delivery that died after sending it), both copies redriven to the queue.
    const dead = {
      v: MESSAGE_VERSION,
      kind: MessageKinds.DEAD_LETTER,
      jobId: 'tjob',
      runId,
      source: 'worker',
      tasks: [{ task: task('r1', 'slow'), attempts: 4, error: 'status 503' }],
    };
    const Entries = [0, 1].map((i) => ({ Id: String(i), MessageBody: JSON.stringify(dead) }));
    await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries }));
    const copies = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(copies).toHaveLength(2);
    await worker(sqsEvent(copies), fakeContext());
    // The copy that found the task in progress retries it: the retry answers from the record.
    for (let round = 0; round < 3; round++) {
      const retries = await drainQueue(h.sqs, h.resources.queueUrl);
      if (retries.length === 0) break;
      await worker(sqsEvent(retries), fakeContext());
    }
    expect(hits('r1')).toBe(1);
  });

  it('a message settled before runs none of its tasks again: its failed task runs once more, in its retry only', async () => {
    // Its dead letter cannot be sent (a queue that is not there): the delivery fails after its settle and
    // its retry message, and the message comes back in one batch with that retry.
    const broken = createRuntime({
      ...h.env,
      BOUNDED_FANOUT_DLQ_URL: `${h.resources.deadLetterQueueUrl}-none`,
    });
    try {
      const { createWorkerHandler } = await import('../../functions/worker.js');
      const worker = createWorkerHandler(() => broken);
      const runId = newRun();
      // A run the ledger keeps (the orchestrator starts every run so), so a settle leaves its marker.
      const started = await broken.ledger?.startRun({
        jobId: 'tjob',
        runId,
        startedAt: Date.now(),
        toleratedFailurePercent: 100,
        overlap: 'allow',
      });
      expect(started?.action).toBe('start');
      const message = taskMessage(runId, [task('f1', 'flaky'), task('f2', 'fail')]);
      const [received] = await enqueueAndReceive([message]);
      const first = (await worker(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
      expect(first.batchItemFailures).toEqual([{ itemIdentifier: received.MessageId }]);
      const retries = await drainQueue(h.sqs, h.resources.queueUrl);
      expect(retries.map((r) => JSON.parse(r.Body ?? '{}').key)).toEqual([`${message.key}#2`]);
      flakyFixed = true;
      const [f1, f2] = [hits('f1'), hits('f2')];
      // Its second receive, as SQS counts it.
      const redelivered = { ...received, Attributes: { ApproximateReceiveCount: '2' } };
      const again = (await worker(sqsEvent([redelivered, ...retries]), fakeContext())) as SQSBatchResponse;
      expect(again.batchItemFailures).toEqual([{ itemIdentifier: received.MessageId }]);
      expect([hits('f1') - f1, hits('f2') - f2]).toEqual([1, 0]);
      // What the redelivery sent again: the same retry, under the same key (counted once downstream).
      const resent = await drainQueue(h.sqs, h.resources.queueUrl);
      expect(resent.map((r) => JSON.parse(r.Body ?? '{}').key)).toEqual([`${message.key}#2`]);
    } finally {
      await broken.destroy();
    }
  });

  it('on its last receive, a message counts the tasks an earlier delivery completed as succeeded, unrun', async () => {
    const { createWorkerHandler } = await import('../../functions/worker.js');
    const worker = createWorkerHandler(() => runtime);
    const runId = newRun();
    const message = taskMessage(runId, [task('l1'), task('l2')]);
    // An earlier delivery completed l1, then died before its settle.
    const { run: dying } = await new TaskRunner(runtime).forMessage('tjob', runId, message.tasks);
    await dying(message.tasks[0]);
    const [received] = await enqueueAndReceive([message]);
    const last = { ...received, Attributes: { ApproximateReceiveCount: String(h.config.maxReceiveCount) } };
    const answer = (await worker(sqsEvent([last]), fakeContext())) as SQSBatchResponse;
    expect(answer.batchItemFailures).toEqual([]);
    // l1 counted from its record, l2 dead-lettered unrun: neither requested on this receive.
    expect([hits('l1'), hits('l2')]).toEqual([1, 0]);
    const dead = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    expect(
      dead.flatMap((m) => JSON.parse(m.Body ?? '{}').tasks.map((t: { task: JobTask }) => t.task.id)),
    ).toEqual(['l2']);
  });

  it('redelivers a message whose first delivery left only its task records: no task reaches the target again', async () => {
    const { createWorkerHandler } = await import('../../functions/worker.js');
    const worker = createWorkerHandler(() => runtime);
    const runId = newRun();
    const message = taskMessage(runId, [task('e1'), task('e2'), task('e3')]);
    const [received] = await enqueueAndReceive([message]);
    const first = (await worker(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
    expect(first.batchItemFailures).toEqual([]);
    // The message's own record gone, as when the delivery died in progress and its record expired.
    const db = new DynamoDBClient({});
    try {
      const hash = createHash('md5').update(JSON.stringify(message.key)).digest('base64');
      await db.send(
        new DeleteItemCommand({
          TableName: h.resources.idempotencyTable,
          Key: { id: { S: `${idempotencyKeyPrefix(IdempotencyUses.MESSAGE)}#${hash}` } },
        }),
      );
    } finally {
      db.destroy();
    }
    const again = (await worker(sqsEvent([received]), fakeContext())) as SQSBatchResponse;
    expect(again.batchItemFailures).toEqual([]);
    expect([hits('e1'), hits('e2'), hits('e3')]).toEqual([1, 1, 1]);
  });
});
