// The local event-source poller against the chosen backend (real SQS wire protocol), with scripted handlers.
import type { SQSRecord } from 'aws-lambda';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFunction } from '../../local/local-function.js';
import { EventSourcePoller, failedIds } from '../../local/poller.js';
import { queueDepth } from '../../local/queue-depth.js';
import type { LocalResources } from '../../local/resources.js';
import {
  backend,
  drainBodies,
  freshResources,
  receiveCountOf,
  type SQSClient,
  sendBodies,
  waitFor,
} from './fixtures/aws.js';
import { type Recorder, recorder, scriptedWorker } from './fixtures/handlers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Rig {
  poller: EventSourcePoller;
  worker: LocalFunction;
  rec: Recorder;
  sqs: SQSClient;
  resources: LocalResources;
  received: SQSRecord[];
}

async function rig(
  label: string,
  {
    maxReceiveCount = 3,
    batchSize = 10,
    maxConcurrency = 4,
    timeoutMs = 10_000,
    loseDelete,
  }: {
    maxReceiveCount?: number;
    batchSize?: number;
    maxConcurrency?: number;
    timeoutMs?: number;
    loseDelete?: (record: SQSRecord) => boolean;
  } = {},
): Promise<Rig> {
  const { resources, sqs } = await freshResources(label, { visibilityTimeoutSeconds: 1, maxReceiveCount });
  const rec = recorder();
  const worker = new LocalFunction({ name: `${label}-worker`, handler: scriptedWorker(rec), timeoutMs });
  const received: SQSRecord[] = [];
  const poller = new EventSourcePoller({
    sqs,
    queueUrl: resources.queueUrl,
    queueArn: resources.queueArn,
    worker,
    batchSize,
    maxConcurrency,
    region: backend().region,
    onReceive: (records) => received.push(...records),
    loseDelete,
  });
  cleanups.push(async () => {
    await poller.stop();
    sqs.destroy();
  });
  return { poller, worker, rec, sqs, resources, received };
}

const drained = (r: Rig) => async () =>
  r.poller.inFlight === 0 && (await queueDepth(r.sqs, r.resources.queueUrl)).total === 0;

describe('EventSourcePoller', () => {
  it('deletes only the messages not reported failed: failed ones come back, their neighbours never repeat', async () => {
    const r = await rig('partial');
    const bodies = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? `fail-once:${i}` : `ok:${i}`));
    await sendBodies(r.sqs, r.resources.queueUrl, bodies);
    r.poller.start();
    await waitFor(drained(r), 'the queue to drain');

    expect([...r.rec.succeeded].sort()).toEqual([...bodies].sort());
    for (const [, records] of r.rec.seen) {
      const body = records[0].body;
      // A fail-once message is seen exactly twice (receive counts 1 then 2); an ok one exactly once.
      expect(records.map(receiveCountOf)).toEqual(body.startsWith('fail-once') ? [1, 2] : [1]);
    }
    expect(r.rec.seen.size).toBe(40);
    expect(r.poller.stats.messagesFailed).toBe(10);
    expect(r.poller.stats.messagesDeleted).toBe(40);
    expect(await drainBodies(r.sqs, r.resources.deadLetterQueueUrl)).toEqual([]);
  });

  it('moves a message to the dead-letter queue after maxReceiveCount failed receives, and only it', async () => {
    const r = await rig('redrive', { maxReceiveCount: 2 });
    const bodies = ['poison:a', 'ok:1', 'ok:2', 'poison:b', 'ok:3'];
    await sendBodies(r.sqs, r.resources.queueUrl, bodies);
    r.poller.start();
    await waitFor(drained(r), 'the queue to drain');

    expect([...r.rec.succeeded].sort()).toEqual(['ok:1', 'ok:2', 'ok:3']);
    const poisonReceives = [...r.rec.seen.values()]
      .filter((records) => records[0].body.startsWith('poison'))
      .map((records) => records.length);
    expect(poisonReceives).toEqual([2, 2]);
    expect((await drainBodies(r.sqs, r.resources.deadLetterQueueUrl)).sort()).toEqual([
      'poison:a',
      'poison:b',
    ]);
  });

  it('redelivers after the visibility timeout when a delete is lost, with the receive count raised', async () => {
    let lost = 0;
    const r = await rig('visibility', {
      loseDelete: (record) => record.body === 'ok:lost' && receiveCountOf(record) === 1 && ++lost === 1,
    });
    await sendBodies(r.sqs, r.resources.queueUrl, ['ok:lost', 'ok:kept']);
    r.poller.start();
    await waitFor(drained(r), 'the queue to drain');

    const lostRecords = [...r.rec.seen.values()].find((records) => records[0].body === 'ok:lost')!;
    expect(lostRecords.map(receiveCountOf)).toEqual([1, 2]);
    expect(r.rec.succeeded.filter((b) => b === 'ok:kept')).toHaveLength(1);
    expect(r.poller.stats.deletesLost).toBe(1);
  });

  it('treats a thrown invocation and a timed-out one as failing the whole batch: nothing is lost', async () => {
    const r = await rig('throws', { batchSize: 10, maxConcurrency: 1 });
    // One batch with a crash in it, then a batch whose first invocation outlives the function's timeout.
    const bodies = ['ok:1', 'throw-once:x', 'ok:2', 'ok:3'];
    await sendBodies(r.sqs, r.resources.queueUrl, bodies);
    r.poller.start();
    await waitFor(drained(r), 'the queue to drain');

    expect([...new Set(r.rec.succeeded)].sort()).toEqual([...bodies].sort());
    // throw-once throws on its first delivery only: exactly one batch failed, and it was redelivered.
    expect(r.poller.stats.invocationErrors).toBe(1);
    for (const records of r.rec.seen.values()) expect(receiveCountOf(records.at(-1)!)).toBeLessThanOrEqual(2);
    expect(await drainBodies(r.sqs, r.resources.deadLetterQueueUrl)).toEqual([]);

    const slow = await rig('timeout', { batchSize: 1, maxConcurrency: 1, timeoutMs: 200 });
    let calls = 0;
    // Wrap: the first invocation never returns, so only the function's timeout ends it (no race between two
    // sleeps); the redelivery is quick.
    const quick = new LocalFunction({
      name: 'timeout-worker',
      timeoutMs: 200,
      handler: async () => {
        if (++calls === 1) await new Promise(() => undefined);
        return { batchItemFailures: [] };
      },
    });
    const poller = new EventSourcePoller({
      sqs: slow.sqs,
      queueUrl: slow.resources.queueUrl,
      queueArn: slow.resources.queueArn,
      worker: quick,
      batchSize: 1,
      maxConcurrency: 1,
    });
    cleanups.push(() => poller.stop());
    await sendBodies(slow.sqs, slow.resources.queueUrl, ['ok:timeout']);
    poller.start();
    await waitFor(
      async () => poller.inFlight === 0 && (await queueDepth(slow.sqs, slow.resources.queueUrl)).total === 0,
      'the timed-out message to be redelivered and deleted',
    );
    expect(calls).toBe(2);
    expect(quick.stats.errors).toBe(1);
    expect(poller.stats.invocationErrors).toBe(1);
  });

  it('never runs more than maxConcurrency worker invocations at once, and uses the cap', async () => {
    const r = await rig('cap', { batchSize: 2, maxConcurrency: 3 });
    const bodies = Array.from({ length: 60 }, (_, i) => `slow:${5 + (i % 4) * 5}`);
    await sendBodies(r.sqs, r.resources.queueUrl, bodies);
    r.poller.start();
    await waitFor(drained(r), 'the queue to drain');

    expect(r.rec.succeeded).toHaveLength(60);
    expect(r.rec.peak).toBeLessThanOrEqual(3);
    expect(r.rec.peak).toBe(3);
    expect(r.poller.stats.peakInvocations).toBe(r.rec.peak);
    expect(r.worker.peakInFlight).toBe(r.rec.peak);
    for (const records of r.rec.seen.values()) expect(records.length).toBe(1);
    // Every message in exactly one batch, none above batchSize, one invocation per batch.
    expect(r.rec.batchSizes.reduce((a, b) => a + b, 0)).toBe(60);
    expect(Math.max(...r.rec.batchSizes)).toBe(2);
    expect(r.poller.stats.invocations).toBe(r.rec.batchSizes.length);
  });
});

describe('failedIds (Lambda partial batch response rules)', () => {
  const records = (ids: string[]) => ids.map((messageId) => ({ messageId }) as SQSRecord);

  it('reads no response and an empty list as all succeeded, and a bad item as all failed', () => {
    const batch = records(['a', 'b', 'c']);
    expect(failedIds(undefined, batch)).toEqual(new Set());
    expect(failedIds(null, batch)).toEqual(new Set());
    expect(failedIds({ batchItemFailures: [] }, batch)).toEqual(new Set());
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: 'b' }] }, batch)).toEqual(new Set(['b']));
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: 'zz' }] }, batch)).toEqual(
      new Set(['a', 'b', 'c']),
    );
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: '' }] }, batch)).toEqual(
      new Set(['a', 'b', 'c']),
    );
    expect(failedIds({ batchItemFailures: 'b' }, batch)).toEqual(new Set(['a', 'b', 'c']));
  });

  it('property: the failed set is always a subset of the batch, and exact when every identifier is valid', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.oneof(fc.nat(12), fc.constant(-1))),
        (ids, picks) => {
          const batch = records(ids);
          const identifiers = picks.map((p) => (p >= 0 && p < ids.length ? ids[p] : `x${p}`));
          const failed = failedIds(
            { batchItemFailures: identifiers.map((itemIdentifier) => ({ itemIdentifier })) },
            batch,
          );
          for (const id of failed) expect(ids).toContain(id);
          const allValid = identifiers.every((id) => ids.includes(id));
          expect(failed).toEqual(allValid ? new Set(identifiers) : new Set(ids));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
