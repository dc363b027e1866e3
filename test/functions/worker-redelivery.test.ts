import { GetObjectCommand } from '@aws-sdk/client-s3';
import { type Message, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { type IdempotencyMode, IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import type { Edge } from '../../local/edge.js';
import { type Containers, startContainers, type Worker } from './containers.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent } from './harness.js';

// Two deliveries of one SQS message with different outcomes, through the real worker handler, each in its
// own container (runtime), against the backend's real queue, DLQ and tables and a real HTTP target on
// 127.0.0.1 that counts requests per task. A message's follow-ups (the retry of a failed task, the hand-on
// of an unstarted one) must never count a task the other delivery counted: whichever delivery settles the
// message first decides its follow-ups, and a delivery that dies between its settle and its follow-ups
// leaves them to the next delivery (docs/ledger.md, "A message delivered twice").

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let events: Edge;
let ledger: JobLedger;
let orchestrator: Containers['orchestrator'];
/** `/flip/` paths answer 503 (retryable) and `/gone/` paths 404 (for good) while this is true, then 200. */
let flipFails = true;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => {
    if (!flipFails) return undefined;
    if (req.path.includes('/flip/')) return { status: 503 };
    return req.path.includes('/gone/') ? { status: 404 } : undefined;
  });
  c = await startContainers({
    perInvocationConcurrency: 4,
    maxReceiveCount: 3,
    deadlineMarginMs: 1000,
    pauseRecheckSeconds: 0,
  });
  ({ h, events, ledger, orchestrator } = c);
});

afterAll(async () => {
  await c?.destroy();
  await server?.close();
});

const container = (idempotency: IdempotencyMode) => c.container(idempotency);
const workerOf = (rt: FunctionRuntime) => c.workerOf(rt);
const drain = (worker: Worker) => c.drain(worker);

/**
 * Runs `before` ahead of each of the container's calls named by `command` (a regular expression on the
 * command's name), for the first `times` calls: the test's hook into "between the settle and the sends".
 */
function onCommand(
  rt: FunctionRuntime,
  client: 'dynamodb' | 'sqs',
  command: RegExp,
  before: () => Promise<void> | void,
  times = 1,
  skip = 0,
): void {
  let seen = -skip;
  (rt.aws[client].middlewareStack as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        if (command.test(context.commandName ?? '') && seen++ >= 0 && seen <= times) await before();
        return next(args);
      },
    { step: 'initialize', name: `hook${Math.random()}` },
  );
}

/** Every follow-up `rt` sends after its settle is lost (SQS refused it for good, or the container died then). */
function loseFollowUps(rt: FunctionRuntime): void {
  const lost = () => {
    throw new Error('injected: the follow-up is lost');
  };
  onCommand(rt, 'sqs', /^SendMessage/, lost, Number.POSITIVE_INFINITY);
}

/** `rt`'s worker takes `message` and fails it alone (a batch item failure): SQS would deliver it again. */
async function deliveryDies(rt: FunctionRuntime, message: Message): Promise<void> {
  const failed = (await workerOf(rt)(sqsEvent([message]), fakeContext())) as { batchItemFailures: unknown[] };
  expect(failed.batchItemFailures).toHaveLength(1);
}

const url = (id: string, kind = '') => `${server.url}/${kind ? `${kind}/` : ''}${id}`;

/** Starts a run of `ok` tasks that always succeed and one `/flip/` task; returns its one queue message. */
async function oneMessage(jobId: string, ok: number, flip = 'flip'): Promise<Message> {
  const tasks = [
    ...Array.from({ length: ok }, (_, i) => ({
      id: `${jobId}-ok${i}`,
      url: url(`${jobId}-ok${i}`),
      mode: 'queue',
    })),
    { id: `${jobId}-flip`, url: url(`${jobId}-flip`, flip), mode: 'queue' },
  ];
  flipFails = true;
  await orchestrator({ jobId, runId: 'r1', tasks }, fakeContext());
  const messages = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(messages).toHaveLength(1);
  return messages[0];
}

/** The truth the ledger must show: every task counted once, succeeded, the run ended once. */
async function expectExact(jobId: string, submitted: number): Promise<void> {
  const record = await ledger.getRun(jobId, 'r1');
  expect(record).toMatchObject({
    status: 'succeeded',
    submitted,
    succeeded: submitted,
    deadLettered: 0,
    undeliverable: 0,
    invalid: 0,
    cancelled: 0,
    manifestDone: true,
  });
  const finished = events.eventBus.events.filter(
    (e) => e.source === 'bounded-fanout' && (e.detail as RunRecord).jobId === jobId,
  );
  expect(finished).toHaveLength(1);
  expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).toEqual([]);
}

describe('a message delivered twice with different outcomes, through the worker handler', () => {
  /** Delivery A runs its tasks and waits at its settle while B (the target now answering) settles first. */
  async function race(message: Message): Promise<void> {
    const [a, b] = [container(IdempotencyModes.OFF), container(IdempotencyModes.OFF)];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let atSettle = () => {};
    const reached = new Promise<void>((resolve) => {
      atSettle = resolve;
    });
    onCommand(a, 'dynamodb', /^TransactWrite/, () => {
      atSettle();
      return gate;
    });
    const first = workerOf(a)(sqsEvent([message]), fakeContext());
    await reached;
    flipFails = false;
    await workerOf(b)(sqsEvent([message]), fakeContext());
    release();
    await first;
    await drain(workerOf(b));
  }

  it('idempotency off: the first delivery retries a failed task, the second settles first with it succeeded: counted once', async () => {
    await race(await oneMessage('rd-race', 3));
    await expectExact('rd-race', 4);
  });

  it('idempotency off: the first delivery dead-letters a task, the second settles first with it succeeded: no dead letter goes', async () => {
    await race(await oneMessage('rd-race-dead', 3, 'gone'));
    await expectExact('rd-race-dead', 4);
  });

  it('idempotency off: a delivery that settles with a dead letter and dies before counting it: the redelivery counts it once', async () => {
    const jobId = 'rd-dead-lost';
    const message = await oneMessage(jobId, 3, 'gone');
    const [a, b] = [container(IdempotencyModes.OFF), container(IdempotencyModes.OFF)];
    // A's settle goes; its second transaction (the dead letter's count, after the DLQ send) is lost.
    onCommand(
      a,
      'dynamodb',
      /^TransactWrite/,
      () => {
        throw new Error('injected: died before counting its dead letters');
      },
      1,
      1,
    );
    await deliveryDies(a, message);
    flipFails = false;
    await workerOf(b)(sqsEvent([message]), fakeContext());
    const record = await ledger.getRun(jobId, 'r1');
    // The first settle's outcome stands: the task is dead-lettered, once, though B saw it succeed.
    expect(record).toMatchObject({
      status: 'partial',
      submitted: 4,
      succeeded: 3,
      deadLettered: 1,
      cancelled: 0,
    });
    const finished = events.eventBus.events.filter(
      (e) => e.source === 'bounded-fanout' && (e.detail as RunRecord).jobId === jobId,
    );
    expect(finished).toHaveLength(1);
    const key = record!.resultUri!.replace(`s3://${h.resources.bucket}/`, '');
    const object = await container(IdempotencyModes.OFF).aws.s3.send(
      new GetObjectCommand({ Bucket: h.resources.bucket, Key: key }),
    );
    const lines = (await object.Body!.transformToString()).trim().split('\n');
    expect(lines.filter((l) => l.includes('"dead-letter"') && l.includes(`${jobId}-flip`))).toHaveLength(1);
    // Sent by A before it died and again by B: the DLQ is at least once.
    const dead = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    expect(dead.length).toBeGreaterThanOrEqual(1);
    expect(dead.every((m) => m.Body!.includes(`${jobId}-flip`))).toBe(true);
  });

  it('a delivery that settles with a retry and dies before sending it, redelivered while the run is paused: the retry is held, not the whole message', async () => {
    const jobId = 'rd-paused';
    const message = await oneMessage(jobId, 3);
    const a = container(IdempotencyModes.OFF);
    loseFollowUps(a);
    await workerOf(a)(sqsEvent([message]), fakeContext());
    await ledger.setStatus(jobId, 'r1', { status: 'paused', from: ['running'] });
    await workerOf(container(IdempotencyModes.OFF))(sqsEvent([message]), fakeContext());
    const held = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(held.map((m) => JSON.parse(m.Body!).tasks.map((t: { id: string }) => t.id))).toEqual([
      [`${jobId}-flip`],
    ]);
    await ledger.setStatus(jobId, 'r1', { status: 'running', from: ['paused'] });
    flipFails = false;
    await h.sqs.send(new SendMessageCommand({ QueueUrl: h.resources.queueUrl, MessageBody: held[0].Body! }));
    await drain(workerOf(container(IdempotencyModes.OFF)));
    await expectExact(jobId, 4);
  });

  it('a message settled before, redelivered in a batch whose other settle goes unread: the kept retry is still sent', async () => {
    const jobId = 'rd-unread';
    const tasks = [
      ...Array.from({ length: 7 }, (_, i) => ({
        id: `${jobId}-ok${i}`,
        url: url(`${jobId}-ok${i}`),
        mode: 'queue',
      })),
      { id: `${jobId}-flip`, url: url(`${jobId}-flip`, 'flip'), mode: 'queue' },
    ].sort((x, y) => (x.id.endsWith('flip') ? -1 : y.id.endsWith('flip') ? 1 : 0));
    flipFails = true;
    await orchestrator({ jobId, runId: 'r1', limits: { tasksPerMessage: 4 }, tasks }, fakeContext());
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(messages).toHaveLength(2);
    const withFlip = messages.find((m) => m.Body!.includes(`${jobId}-flip`))!;
    const a = container(IdempotencyModes.OFF);
    loseFollowUps(a);
    await workerOf(a)(sqsEvent([withFlip]), fakeContext());
    flipFails = false;
    // Both together: the other message's settle completes nothing and goes unread, and the repeat's with it.
    await workerOf(container(IdempotencyModes.OFF))(sqsEvent(messages), fakeContext());
    await drain(workerOf(container(IdempotencyModes.OFF)));
    await expectExact(jobId, 8);
  });

  it('idempotency off: a delivery that settled and sent its retry, delivered again (its delete lost): runs no task again', async () => {
    const jobId = 'rd-late-off';
    const message = await oneMessage(jobId, 3);
    await workerOf(container(IdempotencyModes.OFF))(sqsEvent([message]), fakeContext());
    const requested = () => server.requests.filter((r) => r.path.includes(jobId)).length;
    const before = requested();
    // SQS's later receive of it (a resume's put-back of a settled message is one too: local/settled-open.ts).
    const again = { ...message, Attributes: { ...message.Attributes, ApproximateReceiveCount: '2' } };
    expect(await workerOf(container(IdempotencyModes.OFF))(sqsEvent([again]), fakeContext())).toEqual({
      batchItemFailures: [],
    });
    // Its marker read, what its settle kept sent again (the retry, the same key): none of its 4 tasks requested.
    expect(requested()).toBe(before);
    flipFails = false;
    await drain(workerOf(container(IdempotencyModes.OFF)));
    await expectExact(jobId, 4);
  });

  for (const mode of [IdempotencyModes.OFF, IdempotencyModes.MESSAGE]) {
    it(`idempotency ${mode}: a delivery whose settle fails after its task failed, then a redelivery where it succeeds: counted once`, async () => {
      const jobId = `rd-fail-${mode}`;
      const message = await oneMessage(jobId, 3);
      const [a, b] = [container(mode), container(mode)];
      onCommand(a, 'dynamodb', /^TransactWrite/, () => {
        throw new Error('injected: the settle is lost');
      });
      await deliveryDies(a, message);
      flipFails = false;
      await workerOf(b)(sqsEvent([message]), fakeContext());
      await drain(workerOf(b));
      await expectExact(jobId, 4);
    });

    it(`idempotency ${mode}: a delivery that settles with a retry and dies before sending it: the redelivery sends the recorded retry`, async () => {
      const jobId = `rd-lost-${mode}`;
      const message = await oneMessage(jobId, 3);
      const [a, b] = [container(mode), container(mode)];
      // A's first send after its settle fails (SQS throttled it for good, or the container died then).
      loseFollowUps(a);
      await deliveryDies(a, message);
      flipFails = false;
      await workerOf(b)(sqsEvent([message]), fakeContext());
      await drain(workerOf(b));
      await expectExact(jobId, 4);
    });
  }
});

describe('a cancel between a delivery’s tasks and its settle', () => {
  it('idempotency task: the tasks the dead delivery completed count succeeded, from their records; the rest cancelled', async () => {
    // Delivery A runs the message: three tasks succeed (recorded), the flip one fails; its settle is lost. The run
    // is cancelled, and B, the redelivery, runs nothing. Before, B counted all four `cancelled` ("not started"),
    // though three had run and succeeded and their records said so, as a last receive reads them.
    const jobId = 'rd-cancel-task';
    const message = await oneMessage(jobId, 3);
    const [a, b] = [container(IdempotencyModes.TASK), container(IdempotencyModes.TASK)];
    onCommand(a, 'dynamodb', /^TransactWrite/, () => {
      throw new Error('injected: the settle is lost');
    });
    await deliveryDies(a, message);
    const requests = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${jobId}-${id}`)).length;
    const flipTries = requests('flip');
    await ledger.setStatus(jobId, 'r1', { status: 'cancelled', reason: 'cancelled', from: ['running'] });
    flipFails = false;
    expect(await workerOf(b)(sqsEvent([message]), fakeContext())).toEqual({ batchItemFailures: [] });
    await drain(workerOf(b));
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({
      status: 'cancelled',
      submitted: 4,
      succeeded: 3,
      cancelled: 1,
      deadLettered: 0,
      manifestDone: true,
    });
    expect((await ledger.getRun(jobId, 'r1'))?.finishedAt).toBeGreaterThan(0);
    // B sent nothing: each succeeded task ran once (A's), the failed one only in A's tries.
    for (const id of ['ok0', 'ok1', 'ok2']) expect(requests(id)).toBe(1);
    expect(requests('flip')).toBe(flipTries);
  });
});

describe('a paused run’s held message, delivered again', () => {
  /** A run paused with its one message held by container A; the message as SQS would deliver it again. */
  async function heldOnce(jobId: string): Promise<Message> {
    const message = await oneMessage(jobId, 4);
    flipFails = false;
    await ledger.setStatus(jobId, 'r1', { status: 'paused', from: ['running'] });
    // A holds it: nothing runs, the tasks go back as `<key>~1`. Its delete is lost (it died after the hold).
    expect(await workerOf(container(IdempotencyModes.OFF))(sqsEvent([message]), fakeContext())).toEqual({
      batchItemFailures: [],
    });
    expect(server.requests.filter((r) => r.path.includes(jobId))).toHaveLength(0);
    return message;
  }

  it('idempotency off: redelivered after the resume, its own run counts nothing; the held message counts once', async () => {
    const jobId = 'rd-held';
    const message = await heldOnce(jobId);
    await ledger.setStatus(jobId, 'r1', { status: 'running', from: ['paused'] });
    // The redelivery runs its tasks (`off` runs at least once), finds the hold settled, and sends it again.
    await workerOf(container(IdempotencyModes.OFF))(sqsEvent([message]), fakeContext());
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'running', succeeded: 0 });
    await drain(workerOf(container(IdempotencyModes.OFF)));
    await expectExact(jobId, 5);
    // Run by the redelivery, and by each of the held message's two copies (one key): counted once.
    for (const id of ['ok0', 'ok3', 'flip']) {
      const n = server.requests.filter((r) => r.path.endsWith(`/${jobId}-${id}`)).length;
      expect(n).toBeGreaterThanOrEqual(2);
      expect(n).toBeLessThanOrEqual(3);
    }
  });

  it('idempotency off: cancelled while held, the late redelivery cancels no task twice', async () => {
    const jobId = 'rd-held-cancel';
    const message = await heldOnce(jobId);
    await ledger.setStatus(jobId, 'r1', { status: 'cancelled', reason: 'cancelled', from: ['paused'] });
    await drain(workerOf(container(IdempotencyModes.OFF))); // the held `~1`: its tasks end cancelled
    await workerOf(container(IdempotencyModes.OFF))(sqsEvent([message]), fakeContext());
    await drain(workerOf(container(IdempotencyModes.OFF)));
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({
      status: 'cancelled',
      submitted: 5,
      succeeded: 0,
      cancelled: 5,
      deadLettered: 0,
    });
    expect(server.requests.filter((r) => r.path.includes(jobId))).toHaveLength(0);
  });
});
