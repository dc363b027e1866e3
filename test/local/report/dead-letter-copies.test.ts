// A dead letter can be in the DLQ twice: SQS sends at least once (a send retried after its reply was lost
// leaves two copies), and a redrive can leave a copy behind. The ledger counts each task once (its settle is
// keyed by message, a redriven task's move by task id); the run's report must list each dead-lettered task
// once too, with its last error, and only those still dead-lettered, so that its list agrees with its
// deadLettered count. The real runtime and worker on the emulators, against a loopback target; a wrapper
// around the worker's handler sends each new dead letter a second time, as a retried send would.
import {
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { resourceNames } from '../../../lib/config.js';
import type { LambdaHandler } from '../../../local/local-function.js';
import { sqsClient } from '../../../local/resources.js';
import { runLocalJob } from '../../../local/run-local-job.js';
import { backend, uniquePrefix } from '../fixtures/aws.js';
import { trackTargets } from '../fixtures/targets.js';

const target = trackTargets();

const config = (prefix: string) => ({
  prefix,
  allowHosts: ['127.0.0.1'],
  tasksPerMessage: 3,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxReceiveCount: 1,
});

/**
 * A worker wrapper that, after each invocation, hands every dead letter it has not seen yet to `onNew`
 * (the letter's body and the DLQ's URL).
 */
function watchingDeadLetters(
  sqs: SQSClient,
  prefix: string,
  onNew: (body: string, deadLetterQueueUrl: string) => Promise<void>,
): (handler: LambdaHandler) => LambdaHandler {
  const seen = new Set<string>();
  const look = async () => {
    const names = resourceNames({ prefix });
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: names.deadLetterQueue }));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
    );
    for (const { Body } of Messages) {
      if (!Body || seen.has(Body)) continue;
      seen.add(Body);
      await onNew(Body, QueueUrl!);
    }
  };
  return (handler) => async (event, context) => {
    const result = await handler(event, context);
    await look();
    return result;
  };
}

const idsOf = (body: string) =>
  (JSON.parse(body) as { tasks: { task: { id: string } }[] }).tasks.map((t) => t.task.id);

describe('the run report of a DLQ holding copies of its dead letters', () => {
  // Without the ledger the count is the DLQ's own: its tasks, each once, too.
  it.each([
    ['with', true],
    ['without', false],
  ])(
    'lists each dead-lettered task once, as many as it counts, %s the ledger',
    async (_, ledger) => {
      const t = await target((id) => (id.startsWith('bad') ? { status: 404 } : undefined));
      const ids = [...Array.from({ length: 8 }, (_, i) => `ok${i}`), 'bad0', 'bad1', 'bad2', 'bad3'];
      const tasks = ids.map((id) => ({ id, url: t.url('queue', id), mode: 'queue' }));
      const prefix = uniquePrefix('dlcopy');
      const sqs = sqsClient(backend());
      // Each dead letter a second time, as a retried send leaves it.
      const wrapWorker = watchingDeadLetters(sqs, prefix, async (MessageBody, QueueUrl) => {
        await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody }));
      });
      try {
        const report = await runLocalJob(
          { jobId: 'copies', tasks },
          { config: config(prefix), backend: backend(), faults: { wrapWorker }, ledger },
        );
        // Every dead letter is in the queue twice; each task is counted once.
        expect(report.deadLetters.tasks).toBe(8);
        expect([report.succeeded, report.deadLettered, report.unaccounted]).toEqual([8, 4, 0]);
        expect(report.deadLetteredTasks.map((d) => d.id).sort()).toEqual(['bad0', 'bad1', 'bad2', 'bad3']);
        expect(report.deadLetteredTasks.every((d) => d.error.includes('404'))).toBe(true);
      } finally {
        sqs.destroy();
      }
    },
    120_000,
  );

  it('leaves out the tasks of a copy redriven to success: the ledger moved them out of deadLettered', async () => {
    // flaky... fails at its first request (404: not retried) and succeeds after; bad... always fails.
    const t = await target((id, n) =>
      id.startsWith('bad') || (id.startsWith('flaky') && n === 1) ? { status: 404 } : undefined,
    );
    // Three to a message, each message one of each: every dead letter holds a flaky task and a bad one.
    const ids = [0, 1, 2, 3].flatMap((i) => [`flaky${i}`, `bad${i}`, `ok${i}`]);
    const failing = ids.filter((id) => !id.startsWith('ok'));
    const tasks = ids.map((id) => ({ id, url: t.url('queue', id), mode: 'queue' }));
    const prefix = uniquePrefix('dlmove');
    const sqs = sqsClient(backend());
    // The first dead letter is also sent to the work queue, as a redrive of one of its two copies: the other
    // stays in the DLQ. Its flaky tasks succeed now; its bad ones fail again and stay dead-lettered.
    let redriven: string[] | undefined;
    const wrapWorker = watchingDeadLetters(sqs, prefix, async (MessageBody) => {
      if (redriven) return;
      redriven = idsOf(MessageBody);
      const names = resourceNames({ prefix });
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: names.queue }));
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody }));
    });
    try {
      const report = await runLocalJob(
        { jobId: 'moved', tasks },
        { config: config(prefix), backend: backend(), faults: { wrapWorker } },
      );
      const moved = (redriven ?? []).filter((id) => id.startsWith('flaky'));
      expect(moved.length).toBeGreaterThan(0);
      const still = failing.filter((id) => !moved.includes(id)).sort();
      expect([report.succeeded, report.deadLettered, report.unaccounted]).toEqual([
        4 + moved.length,
        still.length,
        0,
      ]);
      expect(report.deadLetteredTasks.map((d) => d.id).sort()).toEqual(still);
    } finally {
      sqs.destroy();
    }
  }, 120_000);
});
