// The event source against a worker whose reserved concurrency `limits` (PutFunctionConcurrency) set to 0 and
// then raised, as Lambda documents it: the mapping does not look at the reservation, so a throttled batch is
// neither lost nor deleted; it comes back after the visibility timeout with its receive count raised (the
// count maxReceiveCount is held to), and, the cap raised, is processed then.
import type { SQSRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFunction } from '../../local/local-function.js';
import { EventSourcePoller } from '../../local/poller.js';
import { backend, drainBodies, freshResources, receiveCountOf, sendBodies, waitFor } from './fixtures/aws.js';

const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

describe('a throttled worker (reserved concurrency 0, then raised)', () => {
  it('keeps the message: redelivered with its receive count raised, processed once the cap is raised', async () => {
    const { sqs, resources } = await freshResources('throttled', {
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 3,
    });
    stops.push(() => sqs.destroy());
    const handled: string[] = [];
    const worker = new LocalFunction({
      name: 'throttled-worker',
      timeoutMs: 5_000,
      handler: async (event: { Records: SQSRecord[] }) => {
        handled.push(...event.Records.map((r) => r.body));
        return { batchItemFailures: [] };
      },
    });
    worker.setReservedConcurrency(0);
    const receives: number[] = [];
    const poller = new EventSourcePoller({
      sqs,
      queueUrl: resources.queueUrl,
      queueArn: resources.queueArn,
      worker,
      batchSize: 1,
      maxConcurrency: 2,
      region: backend().region,
      onReceive: (records) => {
        receives.push(...records.map(receiveCountOf));
        // The cap is raised between the deliveries (here just before the second is invoked): no race with
        // the visibility timeout, whatever the machine's load.
        if (receives.length === 2) worker.setReservedConcurrency(1);
      },
    });
    stops.push(() => poller.stop());
    await sendBodies(sqs, resources.queueUrl, ['m1']);
    poller.start();
    await waitFor(() => worker.stats.throttles === 1, 'the first delivery throttled');
    expect(poller.stats.messagesDeleted).toBe(0);
    await waitFor(() => handled.length === 1, 'the redelivery handled once the cap is raised');
    await waitFor(() => poller.stats.messagesDeleted === 1, 'the message deleted');
    expect(handled).toEqual(['m1']);
    expect(receives).toEqual([1, 2]);
    expect(worker.stats.throttles).toBe(1);
    expect(poller.stats).toMatchObject({ invocations: 2, invocationErrors: 1, messagesFailed: 1 });
    await poller.stop();
    expect(await drainBodies(sqs, resources.deadLetterQueueUrl)).toEqual([]);
  });
});
