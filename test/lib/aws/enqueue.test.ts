import { randomBytes } from 'node:crypto';
import {
  CreateQueueCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMessageBatch } from '../../../lib/aws/enqueue.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../../lib/fanout/messages.js';
import { splitTaskPacket, type TaskPacket, taskPacket, wireItem } from '../../../lib/fanout/packets.js';
import { sendIsolated } from '../../../lib/fanout/send-isolated.js';
import type { JobTask } from '../../../lib/manifest/schema.js';
import { wireJson } from '../../../lib/wire/wire-json.js';
import { sqsClient } from '../../../local/resources.js';
import { drainQueue } from '../../functions/harness.js';
import { poisonString } from '../../helpers/poison.js';
import { RUNS } from '../../helpers/runs.js';
import { backend } from '../../local/fixtures/aws.js';

// sendMessageBatch and sendIsolated against the chosen backend's SQS, through the real SDK. SQS's own
// refusals are real: a queue with the smallest MaximumMessageSize (1,024 bytes) refuses a larger body as
// the sender's fault, and fauxqs refuses a body with U+FFFE. Failures SQS would blame on itself (throttling,
// an internal error) cannot be provoked on an emulator: a FAULT INJECTOR (an SDK middleware, below) reports
// them for the entries it is told to.

let sqs: SQSClient;
const noWait = { sleep: async () => undefined };

beforeAll(() => {
  sqs = sqsClient(backend());
});
afterAll(() => sqs?.destroy());

async function queue(maxMessageSize?: number): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `enqueue-${randomBytes(4).toString('hex')}`,
      Attributes: maxMessageSize ? { MaximumMessageSize: String(maxMessageSize) } : {},
    }),
  );
  return QueueUrl!;
}

/**
 * FAULT INJECTOR: SendMessageBatch calls on `client` report the entries `fails(id, call)` picks as failed
 * with SQS's InternalError (not the sender's fault) without sending them; the rest go to SQS. Records the
 * entry ids of every call.
 */
function injectFaults(client: SQSClient, fails: (id: string, call: number) => boolean) {
  const calls: string[][] = [];
  const name = `fault-injector-${randomBytes(4).toString('hex')}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageBatchCommand') return next(args);
      const input = args.input as SendMessageBatchCommandInput;
      const entries = input.Entries ?? [];
      const call = calls.push(entries.map((e) => e.Id!));
      const failed = entries.filter((e) => fails(e.Id!, call));
      const Failed = failed.map((e) => ({
        Id: e.Id!,
        SenderFault: false,
        Code: 'InternalError',
        Message: 'injected',
      }));
      const rest = entries.filter((e) => !failed.includes(e));
      if (rest.length === 0) {
        return { output: { Successful: [], Failed, $metadata: {} }, response: {} } as never;
      }
      const out = await next({ ...args, input: { ...input, Entries: rest } });
      const output = out.output as SendMessageBatchCommandOutput;
      return { ...out, output: { ...output, Failed: [...(output.Failed ?? []), ...Failed] } };
    },
    { step: 'initialize', name },
  );
  return { calls, remove: () => client.middlewareStack.remove(name) };
}

const bodiesOf = async (queueUrl: string) => (await drainQueue(sqs, queueUrl)).map((m) => m.Body!).sort();

const entries = (n: number, body = (i: number) => `{"n":${i}}`) =>
  Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, MessageBody: body(i) }));

describe('sendMessageBatch', () => {
  it('resends only the entries that failed for a reason not the sender’s, until they are taken', async () => {
    const url = await queue();
    const faults = injectFaults(sqs, (id, call) => id === 'e3' && call === 1);
    try {
      const failed = await sendMessageBatch(sqs, url, entries(5), noWait);
      expect(failed).toEqual([]);
      expect(faults.calls).toEqual([['e0', 'e1', 'e2', 'e3', 'e4'], ['e3']]);
    } finally {
      faults.remove();
    }
    expect(await bodiesOf(url)).toEqual(entries(5).map((e) => e.MessageBody));
  });

  it('gives back an entry still failing after maxRounds with its last error, not marked as the sender’s fault', async () => {
    const url = await queue();
    const faults = injectFaults(sqs, (id) => id === 'e1');
    try {
      const failed = await sendMessageBatch(sqs, url, entries(3), { ...noWait, maxRounds: 3 });
      expect(failed).toEqual([{ id: 'e1', error: 'InternalError: injected' }]);
      expect(faults.calls).toEqual([['e0', 'e1', 'e2'], ['e1'], ['e1']]);
    } finally {
      faults.remove();
    }
    expect(await bodiesOf(url)).toEqual(['{"n":0}', '{"n":2}']);
  });

  it('never resends an entry SQS refuses as the sender’s fault: it comes back marked, with SQS’s error', async () => {
    const url = await queue(1024);
    const faults = injectFaults(sqs, () => false);
    const body = (i: number) => (i === 1 ? `"${'x'.repeat(2000)}"` : i === 2 ? '"a\uFFFEb"' : `{"n":${i}}`);
    try {
      const failed = await sendMessageBatch(sqs, url, entries(4, body), noWait);
      expect(failed.map((f) => [f.id, f.senderFault])).toEqual([
        ['e1', true],
        ['e2', true],
      ]);
      expect(failed[0].error).toMatch(/^InvalidParameterValue: .*shorter than 1024 bytes/);
      expect(failed[1].error).toMatch(/^InvalidMessageContents: /);
      expect(faults.calls).toEqual([['e0', 'e1', 'e2', 'e3']]);
    } finally {
      faults.remove();
    }
    expect(await bodiesOf(url)).toEqual(['{"n":0}', '{"n":3}']);
    // The same body as wire JSON is taken.
    expect(await sendMessageBatch(sqs, url, [{ Id: 'w', MessageBody: wireJson('a\uFFFEb') }])).toEqual([]);
    expect(JSON.parse((await bodiesOf(url))[0])).toBe('a\uFFFEb');
  });

  it('property: any value with any UTF-16 units, sent as wire JSON, is taken and read back identical', async () => {
    const url = await queue();
    await fc.assert(
      fc.asyncProperty(fc.array(poisonString(40), { minLength: 1, maxLength: 10 }), async (values) => {
        const failed = await sendMessageBatch(
          sqs,
          url,
          values.map((v, i) => ({ Id: `v${i}`, MessageBody: wireJson({ i, v }) })),
          noWait,
        );
        expect(failed).toEqual([]);
        const back = (await drainQueue(sqs, url)).map((m) => JSON.parse(m.Body!) as { i: number; v: string });
        expect(back.sort((a, b) => a.i - b.i).map((b) => b.v)).toEqual(values);
      }),
      { numRuns: Math.min(RUNS, 50) },
    );
  });
});

describe('sendIsolated over sendMessageBatch', () => {
  const envelope = (seq: number): Omit<TaskMessage, 'tasks'> => ({
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'iso',
    runId: 'r',
    key: `iso:r:${seq}`,
    attempt: 1,
  });
  const task = (id: string, body?: string): JobTask => ({
    id,
    url: `http://127.0.0.1:9/${id}`,
    mode: 'queue',
    ...(body ? { method: 'POST', body } : {}),
  });

  it('splits a refused message until the task at fault stands alone: only it is refused, each other task sent once', async () => {
    const url = await queue(1024);
    // Ten messages of four tasks; message 6 holds one task that can never fit a 1,024-byte message.
    const packets: TaskPacket[] = Array.from({ length: 10 }, (_, m) =>
      taskPacket(
        `m${m}`,
        envelope(m),
        Array.from({ length: 4 }, (_, t) =>
          wireItem(task(`t${m}-${t}`, m === 6 && t === 2 ? 'x'.repeat(1100) : undefined)),
        ),
      ),
    );
    const out = await sendIsolated(packets, (e) => sendMessageBatch(sqs, url, e, noWait), splitTaskPacket);

    expect(out.refused.map((r) => [r.packet.items.map((i) => i.value.id), r.senderFault])).toEqual([
      [['t6-2'], true],
    ]);
    expect(out.refused[0].error).toMatch(/^InvalidParameterValue: .*shorter than 1024 bytes/);
    // One call for the ten, one for the two halves of message 6, one for the halves of its half [t6-2, t6-3].
    expect(out.calls).toBe(3);
    expect(out.sent.map((p) => p.envelope.key).sort()).toEqual(
      [
        ...Array.from({ length: 10 }, (_, m) => `iso:r:${m}`).filter((k) => k !== 'iso:r:6'),
        'iso:r:6/0',
        'iso:r:6/1/1',
      ].sort(),
    );
    const messages = (await drainQueue(sqs, url)).map((m) => JSON.parse(m.Body!) as TaskMessage);
    const ids = messages.flatMap((m) => m.tasks.map((t) => t.id));
    expect(ids.sort()).toEqual(
      packets
        .flatMap((p) => p.items.map((i) => i.value.id))
        .filter((id) => id !== 't6-2')
        .sort(),
    );
  });

  it('does not split a message that failed for another reason: it is refused whole, after the send’s own rounds', async () => {
    const url = await queue();
    const faults = injectFaults(sqs, (id) => id === 'm1');
    try {
      const packets = [0, 1, 2].map((m) =>
        taskPacket(`m${m}`, envelope(m), [wireItem(task(`a${m}`)), wireItem(task(`b${m}`))]),
      );
      const out = await sendIsolated(
        packets,
        (e) => sendMessageBatch(sqs, url, e, { ...noWait, maxRounds: 2 }),
        splitTaskPacket,
      );
      expect(
        out.refused.map((r) => [r.packet.entry.Id, r.packet.items.length, r.senderFault, r.error]),
      ).toEqual([['m1', 2, false, 'InternalError: injected']]);
      expect([out.sent.length, out.calls]).toEqual([2, 1]);
      expect(faults.calls).toEqual([['m0', 'm1', 'm2'], ['m1']]);
    } finally {
      faults.remove();
    }
  });
});
