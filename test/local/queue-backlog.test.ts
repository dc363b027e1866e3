// The local SQS pushing back: sends to the work queue wait while it is full and go as it drains, against the
// chosen backend (real wire protocol, a real SDK middleware).
import { ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { QueueBacklog } from '../../local/queue-backlog.js';
import { queueDepth } from '../../local/queue-depth.js';
import { sqsClient } from '../../local/resources.js';
import { backend, drainBodies, freshResources, sendBodies, waitFor } from './fixtures/aws.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

async function rig(label: string, maxMessages: number, maxHoldMs?: number, signal?: AbortSignal) {
  const { resources, sqs } = await freshResources(label);
  const producer = sqsClient(backend()); // stands for the orchestrator's own client
  cleanups.push(
    () => sqs.destroy(),
    () => producer.destroy(),
  );
  const backlog = new QueueBacklog({
    sqs,
    queueUrl: resources.queueUrl,
    maxMessages,
    maxHoldMs,
    pollMs: 5,
    signal,
  });
  backlog.attach(producer);
  return { resources, sqs, producer, backlog };
}

describe('QueueBacklog', () => {
  it('holds sends while the queue is full and lets each go as a message leaves', async () => {
    const { resources, sqs, producer, backlog } = await rig('backlog-hold', 4);
    const queueUrl = resources.queueUrl;
    await sendBodies(producer, queueUrl, ['a', 'b', 'c', 'd']); // below the bound at each send: not held
    expect(backlog.stats.held).toBe(0);

    let sent = false;
    const held = producer
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'e' }))
      .then(() => (sent = true));
    await waitFor(() => backlog.stats.held === 1, 'the fifth send to be held');
    expect(sent).toBe(false);
    expect((await queueDepth(sqs, queueUrl)).total).toBe(4);

    // A send to another queue is never held.
    await producer.send(new SendMessageCommand({ QueueUrl: resources.deadLetterQueueUrl, MessageBody: 'x' }));
    expect(sent).toBe(false);

    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 60 }),
    );
    expect(Messages).toHaveLength(1);
    expect(sent).toBe(false); // received is still in the queue (in flight) until deleted
    await drainBodies(sqs, queueUrl); // deletes what is visible: the queue drains below the bound
    await held;
    expect(sent).toBe(true);
    expect(backlog.stats).toMatchObject({ held: 1, overrun: 0, peakDepth: 4 });
  });

  it('reads the depth once for sends that stay below the bound, and again when they reach it', async () => {
    const { resources, sqs, producer, backlog } = await rig('backlog-reads', 25);
    let reads = 0;
    sqs.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'GetQueueAttributesCommand') reads++;
        return next(args);
      },
      { step: 'initialize', name: 'countReads' },
    );
    const batch = (from: number) =>
      new SendMessageBatchCommand({
        QueueUrl: resources.queueUrl,
        Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `m${from + i}` })),
      });
    await producer.send(batch(0));
    await producer.send(batch(10)); // the estimate, 20, is below 25: no reading
    expect(reads).toBe(1);
    await drainBodies(sqs, resources.queueUrl); // the queue empties; the estimate still says 20
    await producer.send(batch(20)); // 20 is below 25: goes on the estimate, now 30
    expect(reads).toBe(1);
    await producer.send(batch(30)); // 30 reaches the bound: read again (10 there), not held
    expect(reads).toBe(2);
    expect(backlog.stats).toMatchObject({ held: 0, overrun: 0, peakDepth: 10 });
    expect(await drainBodies(sqs, resources.queueUrl)).toHaveLength(20);
  });

  it('never holds a send longer than maxHoldMs: the bound is exceeded, no message is lost', async () => {
    const { resources, sqs, producer, backlog } = await rig('backlog-overrun', 2, 50);
    await sendBodies(producer, resources.queueUrl, ['a', 'b']);
    await producer.send(
      new SendMessageBatchCommand({
        QueueUrl: resources.queueUrl,
        Entries: [
          { Id: '0', MessageBody: 'c' },
          { Id: '1', MessageBody: 'd' },
        ],
      }),
    );
    expect(backlog.stats).toMatchObject({ held: 1, overrun: 1 });
    expect((await drainBodies(sqs, resources.queueUrl)).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('holds nothing once the run is stopping: a held send goes at the abort', async () => {
    const stopping = new AbortController();
    const { resources, sqs, producer, backlog } = await rig('backlog-stop', 1, 60_000, stopping.signal);
    await sendBodies(producer, resources.queueUrl, ['a']);
    const held = producer.send(new SendMessageCommand({ QueueUrl: resources.queueUrl, MessageBody: 'b' }));
    await waitFor(() => backlog.stats.held === 1, 'the second send to be held');
    stopping.abort();
    await held;
    await producer.send(new SendMessageCommand({ QueueUrl: resources.queueUrl, MessageBody: 'c' }));
    expect(backlog.stats).toMatchObject({ held: 1, overrun: 0 });
    expect((await drainBodies(sqs, resources.queueUrl)).sort()).toEqual(['a', 'b', 'c']);
  });

  it('refuses a bad bound, naming it', () => {
    const sqs = sqsClient(backend());
    cleanups.push(() => sqs.destroy());
    expect(() => new QueueBacklog({ sqs, queueUrl: 'q', maxMessages: 0 })).toThrow(InvalidArgumentError);
    expect(() => new QueueBacklog({ sqs, queueUrl: 'q', maxMessages: 0 })).toThrow(/maxMessages/);
  });
});
