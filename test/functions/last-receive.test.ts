// A queue message on its last receive, through the real orchestrator and worker against the backend's queue
// and DLQ: deliveries that die before their settle (received, never deleted, made visible again) up to
// maxReceiveCount - 1, then the last. A loopback target counts requests per task id.
import { ChangeMessageVisibilityCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import { lastReceiveSettlement, receiveCountOf } from '../../functions/last-receive.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { IdempotencyModes } from '../../lib/config.js';
import { readDeadLetterBody } from '../../lib/fanout/messages.js';
import { RUNS } from '../helpers/runs.js';
import { taskMessage } from '../helpers/task-message.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

quietPowertools();

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

const MAX_RECEIVES = 3;
let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let worker: Handler;
let orchestrator: Handler;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  h = await startHarness({ maxReceiveCount: MAX_RECEIVES, idempotency: IdempotencyModes.OFF });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  worker = createWorkerHandler(() => runtime) as Handler;
  orchestrator = createOrchestratorHandler(() => runtime) as Handler;
});

afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  h?.destroy();
});

const hits = (id: string) => server.requests.filter((r) => r.path === `/${id}`).length;

/** The one message of the work queue, received (its receive count goes up) and left there, visible again. */
async function receiveAndDie(): Promise<Message> {
  const { Messages = [] } = await h.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: h.resources.queueUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 30,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  expect(Messages).toHaveLength(1);
  const [message] = Messages;
  await h.sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: h.resources.queueUrl,
      ReceiptHandle: message.ReceiptHandle!,
      VisibilityTimeout: 0,
    }),
  );
  return message;
}

async function startRun(jobId: string, prefix: string, n: number): Promise<void> {
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: `${server.url}/${prefix}${i}`,
    mode: 'queue',
  }));
  await orchestrator({ jobId, runId: 'r1', tasks }, fakeContext());
}

describe('a message on its last receive', () => {
  it('is dead-lettered unrun and counted once, so its run ends: nothing waits on a move SQS makes unseen', async () => {
    await startRun('last-rc', 'lr', 3);
    for (let i = 1; i < MAX_RECEIVES; i++) {
      const seen = await receiveAndDie();
      expect(seen.Attributes?.ApproximateReceiveCount).toBe(String(i));
    }
    const last = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(last.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual([String(MAX_RECEIVES)]);
    await worker(sqsEvent(last), fakeContext());

    for (let i = 0; i < 3; i++) expect(hits(`lr${i}`)).toBe(0);
    expect(await runtime.ledger!.getRun('last-rc', 'r1')).toMatchObject({
      status: 'partial',
      submitted: 3,
      succeeded: 0,
      deadLettered: 3,
    });
    expect((await runtime.ledger!.getRun('last-rc', 'r1'))?.finishedAt).toBeGreaterThan(0);
    const dead = (await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).map((m) =>
      readDeadLetterBody(m.Body!),
    );
    const tasks = dead.flatMap((d) => (d.kind === 'dead-letter' ? d.message.tasks : []));
    expect(tasks.map((t) => t.task.id).sort()).toEqual(['lr0', 'lr1', 'lr2']);
    for (const t of tasks)
      expect(t.error).toMatch(/^BF_UNSETTLED_DELIVERIES: delivered 3 times without settling/);
    expect(await drainQueue(h.sqs, h.resources.queueUrl)).toEqual([]);
  });

  it('runs its tasks as usual on any earlier receive', async () => {
    await startRun('early-rc', 'er', 2);
    await receiveAndDie();
    const second = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(second.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(['2']);
    await worker(sqsEvent(second), fakeContext());
    for (let i = 0; i < 2; i++) expect(hits(`er${i}`)).toBe(1);
    expect(await runtime.ledger!.getRun('early-rc', 'r1')).toMatchObject({
      status: 'succeeded',
      succeeded: 2,
    });
  });
});

describe('lastReceiveSettlement', () => {
  it('dead-letters every task unrun exactly on a receive past the first that reaches maxReceiveCount, but those completed before', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        fc.infiniteStream(fc.boolean()),
        (receives, max, n, picks) => {
          const message = taskMessage(n);
          // What task mode's records say completed in an earlier delivery: a random subset.
          const done = message.tasks.filter(() => picks.next().value).map((t) => t.id);
          const completed = new Map(
            done.map((id) => [id, { id, ok: true, status: 200, attempts: 1, duplicate: true }]),
          );
          const settled = lastReceiveSettlement(message, receives, max, completed);
          if (receives < Math.max(2, max)) {
            expect(settled).toBeUndefined();
            return;
          }
          // Every task accounted for once: completed ones as succeeded (duplicates), the rest dead.
          expect(settled).toMatchObject({ succeeded: 0, duplicates: done.length, cancelled: 0 });
          expect(settled?.plan.retry).toEqual([]);
          expect(settled?.plan.handOn).toEqual([]);
          const dead = message.tasks.flatMap((t, i) => (done.includes(t.id) ? [] : [i]));
          expect(settled?.plan.dead.map((d) => d.i)).toEqual(dead);
          for (const d of settled?.plan.dead ?? []) expect(d.error).toContain(`delivered ${receives} times`);
        },
      ),
      { numRuns: Math.min(RUNS, 300) },
    );
  });

  it('without records, every task is dead-lettered on the last receive', () => {
    const settled = lastReceiveSettlement(taskMessage(3), 3, 3);
    expect(settled?.plan.dead.map((d) => d.i)).toEqual([0, 1, 2]);
  });

  it('reads the receive count SQS gave, 1 when it gave none or nonsense', () => {
    expect(receiveCountOf({ ApproximateReceiveCount: '4' })).toBe(4);
    expect(receiveCountOf(undefined)).toBe(1);
    for (const bad of ['', '0', '-2', '1.5', 'x'])
      expect(receiveCountOf({ ApproximateReceiveCount: bad })).toBe(1);
  });
});
