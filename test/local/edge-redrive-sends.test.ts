// The one local endpoint and a redrive's sends (local/edge-redrive-sends.ts), through the real SQS client against
// fauxqs behind a real edge: a send marked as a redrive's is handed to the run's listener with the ids SQS gave,
// before its answer goes back (a listener that fails fails the send, so the redrive keeps its dead letters);
// an unmarked send, the runtime's own, is never handed over; with no listener, a marked send passes as any.
import {
  CreateQueueCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Edge } from '../../local/edge.js';
import { markRedriveSends } from '../../local/edge-redrive-sends.js';
import { type Emulators, startEmulators } from '../../local/emulators.js';

const region = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let emulators: Emulators;
let edge: Edge;
let queueUrl: string;
/** One attempt a call: an answer the SDK would retry is seen as it came. */
const plain = () => new SQSClient({ endpoint: edge.url, region, credentials, maxAttempts: 1 });
const redrive = () => {
  const sqs = plain();
  markRedriveSends(sqs);
  return sqs;
};

beforeAll(async () => {
  emulators = await startEmulators({ region });
  const { sqs, s3, dynamodb } = emulators.endpoints;
  edge = await Edge.start({ upstreams: { sqs, s3, dynamodb }, listen: { host: '127.0.0.1', port: 0 } });
  const client = plain();
  queueUrl = (await client.send(new CreateQueueCommand({ QueueName: 'redrive-sends' }))).QueueUrl!;
  client.destroy();
});

afterAll(async () => {
  await edge?.close();
  await emulators?.stop();
});

describe('a redrive’s sends through the one local endpoint', () => {
  it('are handed to the listener with the ids SQS gave; the runtime’s own sends are not', async () => {
    const seen: Array<{ input: unknown; output: unknown }> = [];
    edge.onRedriveSend((input, output) => seen.push({ input, output }));
    const [sqs, own] = [redrive(), plain()];
    try {
      const Entries = ['a', 'b'].map((id) => ({ Id: id, MessageBody: `body ${id}` }));
      const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
      const single = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'one' }));
      await own.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'the runtime’s own' }));
      expect(seen).toHaveLength(2);
      expect(seen[0].input).toMatchObject({ QueueUrl: queueUrl, Entries });
      expect((seen[0].output as typeof answer).Successful?.map((s) => s.MessageId)).toEqual(
        answer.Successful?.map((s) => s.MessageId),
      );
      expect(seen[1]).toMatchObject({
        input: { MessageBody: 'one' },
        output: { MessageId: single.MessageId },
      });
    } finally {
      edge.onRedriveSend(undefined);
      sqs.destroy();
      own.destroy();
    }
  });

  it('a listener that fails fails the send: the redrive is not told it moved the message', async () => {
    edge.onRedriveSend(() => {
      throw new Error('the journal could not be written');
    });
    const sqs = redrive();
    try {
      const send = sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'unjournaled' }));
      await expect(send).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
    } finally {
      edge.onRedriveSend(undefined);
      sqs.destroy();
    }
  });

  it('with no listener, a marked send passes through as any other', async () => {
    const sqs = redrive();
    try {
      const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' }));
      expect(MessageId).toBeTruthy();
    } finally {
      sqs.destroy();
    }
  });
});
