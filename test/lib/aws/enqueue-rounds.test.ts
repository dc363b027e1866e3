// sendMessageBatch's rounds in detail, against the chosen backend's SQS through the real SDK: the backoff it
// sleeps between rounds, DelaySeconds on every entry, a whole call that fails, and SQS answers that name no
// entry or give no code. Two named stand-ins: an SDK middleware (RECORDER/FAULT INJECTOR) that sees or
// replaces a SendMessageBatch answer, and a MOCK of Math.random (the jitter) to make the delays exact.
import { randomBytes } from 'node:crypto';
import { CreateQueueCommand, type SendMessageBatchCommandInput, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultSendBatchOptions, sendMessageBatch } from '../../../lib/aws/enqueue.js';
import { sqsClient } from '../../../local/resources.js';
import { drainQueue } from '../../functions/harness.js';
import { backend } from '../../local/fixtures/aws.js';

let sqs: SQSClient;
beforeAll(() => {
  sqs = sqsClient(backend());
});
afterAll(() => sqs?.destroy());
afterEach(() => vi.restoreAllMocks());

async function queue(): Promise<string> {
  const name = `enqueue-rounds-${randomBytes(4).toString('hex')}`;
  return (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
}

const entries = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, MessageBody: `{"n":${i}}` }));

/**
 * RECORDER / FAULT INJECTOR: records each SendMessageBatch input; `answer(call)` may replace the call's
 * outcome (an output to return without sending, or an error to throw as the SDK would after its retries).
 */
function intercept(
  answer: (call: number) => { output?: object; error?: Error } | undefined = () => undefined,
) {
  const inputs: SendMessageBatchCommandInput[] = [];
  const name = `rounds-${randomBytes(4).toString('hex')}`;
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageBatchCommand') return next(args);
      const call = inputs.push(structuredClone(args.input as SendMessageBatchCommandInput));
      const replaced = answer(call);
      if (replaced?.error) throw replaced.error;
      if (replaced?.output) return { output: { $metadata: {}, ...replaced.output }, response: {} } as never;
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { inputs, remove: () => sqs.middlewareStack.remove(name) };
}

describe('sendMessageBatch: rounds', () => {
  it('sleeps a jittered, doubling, capped delay before each round after the first', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // MOCK: the jitter's draw, fixed
    const slept: number[] = [];
    const sleep = async (ms: number) => void slept.push(ms);
    const url = await queue();
    const down = intercept(() => ({ error: new Error('outage') }));
    try {
      expect(await sendMessageBatch(sqs, url, entries(2), { sleep })).toEqual([
        { id: 'e0', error: 'Error: outage' },
        { id: 'e1', error: 'Error: outage' },
      ]);
      expect(defaultSendBatchOptions).toEqual({ maxRounds: 5, baseDelayMs: 100, maxDelayMs: 2_000 });
      expect(down.inputs).toHaveLength(5);
      expect(slept).toEqual([50, 100, 200, 400]);
      slept.length = 0;
      await sendMessageBatch(sqs, url, entries(1), {
        sleep,
        maxRounds: 4,
        baseDelayMs: 300,
        maxDelayMs: 1_000,
      });
      expect(slept).toEqual([150, 300, 500]);
    } finally {
      down.remove();
    }
    expect(await drainQueue(sqs, url)).toEqual([]);
  });

  it('a whole call that fails resends every entry, and the next round sends them', async () => {
    const url = await queue();
    const flaky = intercept((call) => (call === 1 ? { error: new Error('socket hang up') } : undefined));
    try {
      expect(await sendMessageBatch(sqs, url, entries(3), { sleep: async () => undefined })).toEqual([]);
      expect(flaky.inputs.map((i) => i.Entries?.map((e) => e.Id))).toEqual([
        ['e0', 'e1', 'e2'],
        ['e0', 'e1', 'e2'],
      ]);
    } finally {
      flaky.remove();
    }
    expect((await drainQueue(sqs, url)).map((m) => m.Body).sort()).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
  });

  it('sets DelaySeconds on every entry when asked, and on none otherwise', async () => {
    const url = await queue();
    const seen = intercept();
    try {
      await sendMessageBatch(sqs, url, entries(2), { delaySeconds: 7 });
      await sendMessageBatch(sqs, url, entries(2));
      expect(seen.inputs.map((i) => [i.QueueUrl, i.Entries])).toEqual([
        [
          url,
          [
            { Id: 'e0', MessageBody: '{"n":0}', DelaySeconds: 7 },
            { Id: 'e1', MessageBody: '{"n":1}', DelaySeconds: 7 },
          ],
        ],
        [url, entries(2)],
      ]);
    } finally {
      seen.remove();
    }
  });

  it('ignores failures that name no entry of the call; gives defaults for a failure with no code or message', async () => {
    const url = await queue();
    const odd = intercept((call) =>
      call === 1
        ? {
            output: {
              Successful: [{ Id: 'e0' }],
              Failed: [
                { SenderFault: false },
                { Id: 'nope', SenderFault: false },
                { Id: 'e1', SenderFault: false },
              ],
            },
          }
        : { output: { Successful: [], Failed: [{ Id: 'e1', SenderFault: true }] } },
    );
    try {
      expect(await sendMessageBatch(sqs, url, entries(2), { sleep: async () => undefined })).toEqual([
        { id: 'e1', error: 'Failed: no message', senderFault: true },
      ]);
      expect(odd.inputs.map((i) => i.Entries?.map((e) => e.Id))).toEqual([['e0', 'e1'], ['e1']]);
    } finally {
      odd.remove();
    }
  });

  it('with no round allowed, sends nothing and gives every entry back as not sent', async () => {
    const url = await queue();
    const seen = intercept();
    try {
      expect(await sendMessageBatch(sqs, url, entries(2), { maxRounds: 0 })).toEqual([
        { id: 'e0', error: 'not sent' },
        { id: 'e1', error: 'not sent' },
      ]);
      expect(seen.inputs).toEqual([]);
    } finally {
      seen.remove();
    }
  });
});
