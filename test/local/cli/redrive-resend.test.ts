// The receive-and-resend redrive when a send to the work queue fails. One redrive moves everything it can:
// a send that fails for a reason that may pass (it throws, or SQS answers an entry Failed not by the sender's
// fault) is retried, a few rounds with backoff, within the same redrive; a message that still cannot be moved
// is made visible in the DLQ again at once (not after its 60 s visibility timeout), and the redrive says how
// many and why, and exits 1. The failures are SQS's own, against the embedded emulator (fauxqs): a work
// queue whose MaximumMessageSize is lower than a dead letter (refused by the sender's fault: no retry can
// help), and a work queue deleted after the redrive found it (QueueDoesNotExist, thrown: a teardown or a
// redeploy under way), by an observer on the redrive's SQS client just before its first send; in one test
// the observer creates the queue again after that send failed. The observer changes no call and no answer:
// every call reaches the emulator and is answered by it.
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames } from '../../../lib/config.js';
import { redrive } from '../../../local/cli/commands/redrive.js';
import { runCli } from './cli-process.js';

let server: Awaited<ReturnType<typeof startFauxqs>>;
let endpoint: string;
const clients: SQSClient[] = [];
const client = () => {
  const c = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
  clients.push(c);
  return c;
};
let sqs: SQSClient;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  endpoint = `http://127.0.0.1:${server.port}`;
  sqs = client();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.stop();
});

async function queues(prefix: string) {
  const names = resourceNames({ prefix });
  const url = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  return { queueUrl: await url(names.queue), deadLetterQueueUrl: await url(names.deadLetterQueue) };
}

/** Dead letters with the given bodies, sent to the DLQ. */
async function fill(queueUrl: string, bodies: readonly string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })),
      }),
    );
  }
}

async function depth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
  };
}

async function bodiesIn(queueUrl: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    if (Messages.length === 0) return out.sort();
    out.push(...Messages.map((m) => m.Body ?? ''));
  }
}

const small = (n: number) => Array.from({ length: n }, (_, i) => `dead letter ${i}`);
const big = (n: number) => Array.from({ length: n }, (_, i) => `${i}${'b'.repeat(1_500)}`);

describe('redrive when a send to the work queue fails', () => {
  it('moves the rest; a message the work queue refuses is visible again at once, counted with its reason, exit 1', async () => {
    const { queueUrl, deadLetterQueueUrl } = await queues('refused');
    await sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { MaximumMessageSize: '1024' } }),
    );
    await fill(deadLetterQueueUrl, [...small(13), ...big(2)]);
    const json = await runCli(['redrive', '--endpoint', endpoint, '--prefix', 'refused', '--format', 'json']);
    expect(json.code, json.stderr).toBe(1);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ method: 'receive-and-resend', moved: 13, notMoved: 2 });
    expect(result.failures).toEqual([
      { count: 2, reason: expect.stringMatching(/^InvalidParameterValue: .*shorter than 1024 bytes/) },
    ]);
    // Back in the DLQ, visible now: the next redrive (or a look at the DLQ) finds them without waiting.
    expect(await depth(deadLetterQueueUrl)).toEqual({ visible: 2, inFlight: 0 });
    expect(await bodiesIn(queueUrl)).toEqual(small(13).sort());

    const text = await runCli(['redrive', '--endpoint', endpoint, '--prefix', 'refused']);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe(
      'Moved 0 messages from refused-work-dlq to refused-work (receive-and-resend).\n' +
        'Not moved: 2 messages, visible again in refused-work-dlq for the next redrive: InvalidParameterValue: ' +
        'One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes. (2)\n',
    );
    expect(await depth(deadLetterQueueUrl)).toEqual({ visible: 2, inFlight: 0 });
  });

  it('retries a send that throws within the same redrive, and moves every message once it goes through', async () => {
    const { queueUrl, deadLetterQueueUrl } = await queues('comes-back');
    await fill(deadLetterQueueUrl, small(23));
    // The work queue goes before the first send and comes back after that send failed.
    const observed = client();
    const sends: string[] = [];
    observed.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        if (sends.length === 0) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
        try {
          const out = await next(args);
          sends.push('ok');
          return out;
        } catch (error) {
          sends.push((error as Error).name);
          if (sends.length === 1) await sqs.send(new CreateQueueCommand({ QueueName: 'comes-back-work' }));
          throw error;
        }
      },
      { step: 'initialize', name: 'creates-the-queue-after-one-failure' },
    );
    const result = await redrive({ sqs: observed, queueUrl, deadLetterQueueUrl, emptyReceives: 1 });
    expect(result).toMatchObject({ moved: 23, notMoved: 0, failures: [] });
    expect(sends.filter((s) => s !== 'ok')).toEqual(['QueueDoesNotExist']);
    expect(await bodiesIn(queueUrl)).toEqual(small(23).sort());
    expect(await depth(deadLetterQueueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('counts a batch whose delete throws as moved and not deleted: the redrive goes on, and says so', async () => {
    const { queueUrl, deadLetterQueueUrl } = await queues('undeleted');
    await fill(deadLetterQueueUrl, small(13));
    // The first DeleteMessageBatch throws (as a dropped connection would); the others go through.
    const observed = client();
    let deletes = 0;
    observed.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'DeleteMessageBatchCommand' || ++deletes > 1) return next(args);
        throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
      },
      { step: 'initialize', name: 'first-delete-throws' },
    );
    const result = await redrive({ sqs: observed, queueUrl, deadLetterQueueUrl, emptyReceives: 1 });
    const firstBatch = 13 - result.notDeleted;
    expect(result).toMatchObject({
      moved: 13,
      notMoved: 0,
      deleteFailure: 'NetworkingError: socket hang up',
    });
    // The first receive's messages: sent, then left in the DLQ (hidden until their receive's visibility ends).
    expect(result.notDeleted).toBeGreaterThan(0);
    expect(firstBatch).toBeGreaterThan(0);
    expect(await bodiesIn(queueUrl)).toEqual(small(13).sort());
    expect(await depth(deadLetterQueueUrl)).toEqual({ visible: 0, inFlight: result.notDeleted });
  });

  // A dead letter may be as large as a message (lib/fanout/dead-letter-packer.ts packs records up to 256 KiB),
  // and a receive brings up to 10: one SendMessageBatch of them all is over SQS's limit for a batch's total
  // size (the emulator's: 1 MiB), refused whole, and would be at every redrive.
  it('moves dead letters too large to go together in one send: each batch under the batch size limit', async () => {
    const { queueUrl, deadLetterQueueUrl } = await queues('large');
    const large = Array.from({ length: 10 }, (_, i) => `${i}${'L'.repeat(200 * 1024)}`);
    for (const body of large) await fill(deadLetterQueueUrl, [body]);
    const json = await runCli(['redrive', '--endpoint', endpoint, '--prefix', 'large', '--format', 'json']);
    expect(json.code, json.stdout + json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ moved: 10, notMoved: 0, failures: [] });
    expect(await bodiesIn(queueUrl)).toEqual(large.sort());
    expect(await depth(deadLetterQueueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('gives up on a send that keeps failing after a bounded number of tries; the messages stay, visible', async () => {
    const { queueUrl, deadLetterQueueUrl } = await queues('gone');
    await fill(deadLetterQueueUrl, small(4));
    // The work queue goes before the first send, for good.
    const observed = client();
    let sends = 0;
    observed.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        if (sends++ === 0) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
        return next(args);
      },
      { step: 'initialize', name: 'counts-sends' },
    );
    const result = await redrive({ sqs: observed, queueUrl, deadLetterQueueUrl, emptyReceives: 1 });
    expect(result).toMatchObject({
      moved: 0,
      notMoved: 4,
      failures: [{ count: 4, reason: expect.stringMatching(/QueueDoesNotExist|does not exist/) }],
    });
    // One batch of 4, tried a bounded number of times, and not again in the same redrive.
    expect(sends).toBeGreaterThan(1);
    expect(sends).toBeLessThanOrEqual(5);
    expect(await depth(deadLetterQueueUrl)).toEqual({ visible: 4, inFlight: 0 });
  });
});
