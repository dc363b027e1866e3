import { ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { type IdempotencyMode, IdempotencyModes, idempotencyTableAttributes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import type { Edge } from '../../local/edge.js';
import { type Containers, startContainers } from './containers.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent } from './harness.js';

// A later receive of a message the ledger settled (its delivery died after its settle: the delete lost, or the
// container gone) runs none of its tasks and sends what that settle kept (functions/worker-follow-ups.ts
// resendIfSettled). Through the real worker handler, each delivery in a container of its own, against the
// backend's real queue and tables and a real HTTP target on 127.0.0.1 counting requests per task:
// - a settle that completed the run, its delivery dead before the run's end: the later receive ends it. It
//   adds nothing to count, so no settle of its own would: the run stayed `running` until the job's next run
//   (which ends it and is skipped for it);
// - a settle whose retry was sent, ran and settled before the later receive: the retry is not sent again
//   (its own marker says it settled), where `off` mode ran its task a second time;
// - a settle whose delivery died hard before its retry went out (`message` and `task` modes), its idempotency
//   record left in progress: the last receive (receive count = maxReceiveCount) sends the kept retry and
//   dead-letters nothing. SQS receives a message again no sooner than visibilityTimeoutSeconds after it last
//   did (validateBudget: 6 x the worker's timeout or more), and Powertools keeps a record in progress only
//   until its holder's deadline, so such a receive finds it taken over (the test moves the deadline to the past,
//   as time would). But a standard queue delivers at least once: a copy may come while another delivery of the
//   message runs, and that copy may be the last receive. It found the record in progress and failed, and SQS
//   then moved the message, settled, its retry never sent, to its DLQ: the run never ended.

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let events: Edge;
let ledger: JobLedger;
/** `/flip/` paths answer 503 (retryable) while this is true, then 200. */
let flipFails = true;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => (flipFails && req.path.includes('/flip/') ? { status: 503 } : undefined));
  c = await startContainers({ perInvocationConcurrency: 4, maxReceiveCount: 3, deadlineMarginMs: 1000 });
  ({ h, events, ledger } = c);
});

afterAll(async () => {
  await c?.destroy();
  await server?.close();
});

const workerOf = (rt: FunctionRuntime) => c.workerOf(rt);
const requests = (part: string) => server.requests.filter((r) => r.path.includes(part)).length;
const laterReceive = (m: Message): Message => ({
  ...m,
  Attributes: { ...m.Attributes, ApproximateReceiveCount: '2' },
});
const finishedEvents = (jobId: string) =>
  events.eventBus.events.filter(
    (e) => e.source === 'bounded-fanout' && (e.detail as RunRecord).jobId === jobId,
  );

/** A run of `ok` tasks that succeed and, with `flip`, one that fails while flipFails; its one message. */
async function oneMessage(jobId: string, ok: number, flip: boolean): Promise<Message> {
  const tasks = Array.from({ length: ok }, (_, i) => ({
    id: `${jobId}-ok${i}`,
    url: `${server.url}/${jobId}-ok${i}`,
    mode: 'queue',
  }));
  if (flip) tasks.push({ id: `${jobId}-flip`, url: `${server.url}/flip/${jobId}-flip`, mode: 'queue' });
  await c.orchestrator({ jobId, runId: 'r1', tasks }, fakeContext());
  const messages = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(messages).toHaveLength(1);
  return messages[0];
}

/** `rt`'s first UpdateItem (the run's end, after the settle) fails: the delivery dies between the two. */
function dieBeforeTheEnd(rt: FunctionRuntime): void {
  let seen = 0;
  (rt.aws.dynamodb.middlewareStack as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        if (/^UpdateItem/.test(context.commandName ?? '') && seen++ === 0)
          throw new Error('injected: the container died before the run’s end');
        return next(args);
      },
    { step: 'initialize', name: 'dieBeforeTheEnd' },
  );
}

/** Every call of `rt` to `command` on `client` fails, as in a container that is gone. */
function dies(rt: FunctionRuntime, client: 'sqs' | 'dynamodb', command: RegExp): void {
  (rt.aws[client].middlewareStack as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        if (command.test(context.commandName ?? '')) throw new Error('injected: the container is gone');
        return next(args);
      },
    { step: 'initialize', name: `dies${Math.random()}` },
  );
}

/** The ids of the idempotency records in progress. */
async function inProgress(rt: FunctionRuntime): Promise<Set<string>> {
  const { Items = [] } = await rt.aws.dynamodb.send(
    new ScanCommand({
      TableName: h.resources.idempotencyTable,
      FilterExpression: '#s = :p',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':p': { S: 'INPROGRESS' } },
    }),
  );
  return new Set(Items.map((item) => item[idempotencyTableAttributes.partitionKey].S!));
}

/** Moves the deadline of the holder of each record of `ids` to the past, as time does. */
async function pastDeadline(rt: FunctionRuntime, ids: Iterable<string>): Promise<void> {
  for (const id of ids) {
    await rt.aws.dynamodb.send(
      new UpdateItemCommand({
        TableName: h.resources.idempotencyTable,
        Key: { [idempotencyTableAttributes.partitionKey]: { S: id } },
        UpdateExpression: 'SET in_progress_expiration = :past',
        ExpressionAttributeValues: { ':past': { N: String(Date.now() - 1) } },
      }),
    );
  }
}

describe('a later receive of a message the ledger settled', () => {
  const modes: IdempotencyMode[] = [IdempotencyModes.OFF, IdempotencyModes.MESSAGE, IdempotencyModes.TASK];
  for (const mode of modes) {
    it(`idempotency ${mode}: its settle completed the run, its delivery died before the end: the run ends`, async () => {
      const jobId = `sb-end-${mode}`;
      const message = await oneMessage(jobId, 3, false);
      const a = c.container(mode);
      dieBeforeTheEnd(a);
      const failed = (await workerOf(a)(sqsEvent([message]), fakeContext())) as {
        batchItemFailures: unknown[];
      };
      expect(failed.batchItemFailures).toHaveLength(1);
      expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'running', succeeded: 3 });
      const before = requests(jobId);
      await workerOf(c.container(mode))(sqsEvent([laterReceive(message)]), fakeContext());
      expect(requests(jobId)).toBe(before);
      expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'succeeded', succeeded: 3 });
      expect(finishedEvents(jobId)).toHaveLength(1);
    });
  }

  const hardDeaths = [IdempotencyModes.MESSAGE, IdempotencyModes.TASK].flatMap((mode) =>
    (['passed', 'live'] as const).map((deadline) => [mode, deadline] as const),
  );
  for (const [mode, deadline] of hardDeaths) {
    it(`idempotency ${mode}: its delivery died hard after its settle, its record in progress, its deadline ${deadline}: the last receive sends the retry`, async () => {
      const jobId = `sb-hard-${mode}-${deadline}`;
      flipFails = true;
      const message = await oneMessage(jobId, 3, true);
      const a = c.container(mode);
      // Killed after its settle: its retry never sent, and its idempotency record never deleted.
      for (const [client, command] of [
        ['sqs', /^SendMessage/],
        ['dynamodb', /^DeleteItemCommand$/],
      ] as const)
        dies(a, client, command);
      const held = await inProgress(a);
      const failed = (await workerOf(a)(sqsEvent([message]), fakeContext())) as {
        batchItemFailures: unknown[];
      };
      expect(failed.batchItemFailures).toHaveLength(1);
      expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'running', succeeded: 3 });
      // Passed: SQS's next receive of the message, as it comes. Live: a copy SQS delivered beside the dying one.
      const left = [...(await inProgress(a))].filter((id) => !held.has(id));
      expect(left).toHaveLength(1);
      if (deadline === 'passed') await pastDeadline(a, left);
      const [before, flipped] = [requests(jobId), requests(`${jobId}-flip`)];
      flipFails = false;
      const last = { ...message, Attributes: { ...message.Attributes, ApproximateReceiveCount: '3' } };
      expect(await workerOf(c.container(mode))(sqsEvent([last]), fakeContext())).toEqual({
        batchItemFailures: [],
      });
      expect(requests(jobId)).toBe(before);
      await c.drain(workerOf(c.container(mode)));
      // No task of the message ran again; its retry ran once.
      expect(requests(`${jobId}-flip`)).toBe(flipped + 1);
      expect(await ledger.getRun(jobId, 'r1')).toMatchObject({
        status: 'succeeded',
        succeeded: 4,
        deadLettered: 0,
      });
      expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).toEqual([]);
      expect(finishedEvents(jobId)).toHaveLength(1);
    });
  }

  /** A run of two messages: the flip and two others, then a fourth task; the first delivered, its retry drained. */
  async function retriedAndSettled(jobId: string): Promise<{ message: Message; other: Message }> {
    flipFails = true;
    const tasks = ['flip', 'ok0', 'ok1', 'ok2'].map((id) => ({
      id: `${jobId}-${id}`,
      url: `${server.url}/${id === 'flip' ? 'flip/' : ''}${jobId}-${id}`,
      mode: 'queue',
    }));
    await c.orchestrator({ jobId, runId: 'r1', limits: { tasksPerMessage: 3 }, tasks }, fakeContext());
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    const [message, other] = [0, 1].map((i) => messages.find((m) => m.Body!.includes('flip') === (i === 0))!);
    await workerOf(c.container(IdempotencyModes.OFF))(sqsEvent([message]), fakeContext());
    flipFails = false;
    await c.drain(workerOf(c.container(IdempotencyModes.OFF)));
    // The second message keeps the run live.
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'running', succeeded: 3 });
    return { message, other };
  }

  it('idempotency off: its retry ran and settled before the later receive: the retry is not sent again', async () => {
    const jobId = 'sb-retried';
    const { message, other } = await retriedAndSettled(jobId);
    const flipped = requests(`${jobId}-flip`);
    // Its delete was lost: SQS receives it again, the run still live.
    await workerOf(c.container(IdempotencyModes.OFF))(sqsEvent([laterReceive(message)]), fakeContext());
    await c.drain(workerOf(c.container(IdempotencyModes.OFF)));
    expect(requests(`${jobId}-flip`)).toBe(flipped);
    await workerOf(c.container(IdempotencyModes.OFF))(sqsEvent([other]), fakeContext());
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'succeeded', succeeded: 4 });
    expect(finishedEvents(jobId)).toHaveLength(1);
  });

  it('idempotency off: the same, received again while its run is paused: the retry is not held and sent again', async () => {
    const jobId = 'sb-retried-paused';
    const { message, other } = await retriedAndSettled(jobId);
    const flipped = requests(`${jobId}-flip`);
    await ledger.setStatus(jobId, 'r1', { status: 'paused', from: ['running'] });
    // A copy of it (a resume's put-back, or SQS's own), taken while the run is paused.
    await workerOf(c.container(IdempotencyModes.OFF))(sqsEvent([message]), fakeContext());
    await ledger.setStatus(jobId, 'r1', { status: 'running', from: ['paused'] });
    await c.drain(workerOf(c.container(IdempotencyModes.OFF)));
    expect(requests(`${jobId}-flip`)).toBe(flipped);
    await workerOf(c.container(IdempotencyModes.OFF))(sqsEvent([other]), fakeContext());
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'succeeded', succeeded: 4 });
  });
});
