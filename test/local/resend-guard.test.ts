// The resend guard of a resume that reads the first segment again (local/resend-guard.ts), on a real SQS client
// to the backend's work queue: a send whose message key the killed process sent is dropped and answered as
// sent, the others go out; the task ledger behind it records only what went out; other queues are untouched.
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGE_VERSION, MessageKinds } from '../../lib/fanout/messages.js';
import { ResendGuard } from '../../local/resend-guard.js';
import type { LocalResources } from '../../local/resources.js';
import { TaskLedger } from '../../local/task-ledger.js';
import { drainBodies, freshResources, type SQSClient } from './fixtures/aws.js';

let sqs: SQSClient;
let resources: LocalResources;

beforeAll(async () => {
  ({ sqs, resources } = await freshResources('resend-guard'));
});
afterAll(() => sqs?.destroy());

const body = (seq: number) =>
  JSON.stringify({
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'job',
    runId: 'run',
    key: `job:run:${seq}`,
    attempt: 1,
    tasks: [{ id: `t${seq}`, url: `https://example.com/${seq}` }],
  });

describe('ResendGuard', () => {
  it('drops the sends of keys the killed process sent, answers them sent, and lets the rest through', async () => {
    const queueUrl = resources.queueUrl;
    const guard = new ResendGuard(queueUrl, new Set(['job:run:0', 'job:run:2']));
    const ledger = new TaskLedger(queueUrl);
    ledger.attach(sqs);
    guard.attach(sqs);
    const batch = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [0, 1, 2, 3].map((seq) => ({ Id: String(seq), MessageBody: body(seq) })),
      }),
    );
    expect((batch.Successful ?? []).map((s) => s.Id).sort()).toEqual(['0', '1', '2', '3']);
    expect(batch.Failed ?? []).toEqual([]);
    const single = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body(2) }));
    expect(single.MessageId).toBeTruthy();
    // All dropped: no call reaches the queue.
    const none = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [{ Id: 'a', MessageBody: body(0) }] }),
    );
    expect(none.Successful?.map((s) => s.Id)).toEqual(['a']);
    expect(guard.dropped).toBe(4);
    expect(ledger.size).toBe(2);
    const sent = (await drainBodies(sqs, queueUrl)).map((b) => JSON.parse(b).key).sort();
    expect(sent).toEqual(['job:run:1', 'job:run:3']);
    // Another queue: nothing dropped.
    const other = resources.deadLetterQueueUrl;
    await sqs.send(new SendMessageCommand({ QueueUrl: other, MessageBody: body(0) }));
    expect(guard.dropped).toBe(4);
    expect(await drainBodies(sqs, other)).toEqual([body(0)]);
  });
});
