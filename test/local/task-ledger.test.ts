// The task ledger's accounting, a property over random runs of sends (through a real SQS client to the
// backend's work queue, SendMessage and SendMessageBatch), settlements and a freeze: the open tasks are always
// the tasks of the messages sent and not settled before the freeze, each id once, of the run asked for, less
// the ids excepted; nothing sent to another queue counts.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGE_VERSION, MessageKinds } from '../../lib/fanout/messages.js';
import { QueueJournal } from '../../local/queue-journal.js';
import type { LocalResources } from '../../local/resources.js';
import { TaskLedger } from '../../local/task-ledger.js';
import { freshResources, type SQSClient } from './fixtures/aws.js';

let sqs: SQSClient;
let resources: LocalResources;

beforeAll(async () => {
  ({ sqs, resources } = await freshResources('ledger'));
});
afterAll(() => sqs?.destroy());

const body = (runId: string, attempt: number, ids: readonly string[]) =>
  JSON.stringify({
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'job',
    runId,
    key: `k-${Math.random()}`,
    attempt,
    tasks: ids.map((id) => ({ id, url: `https://example.com/${id}` })),
  });

type Op =
  | { kind: 'send'; runId: string; attempt: number; messages: string[][]; batch: boolean; other: boolean }
  | { kind: 'settle'; picks: number[] }
  | { kind: 'freeze' };

const taskId = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('send' as const),
    runId: fc.constantFrom('r1', 'r2'),
    attempt: fc.integer({ min: 1, max: 3 }),
    messages: fc.array(fc.array(taskId, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
    batch: fc.boolean(),
    other: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('settle' as const),
    picks: fc.array(fc.nat(5), { minLength: 1, maxLength: 4 }),
  }),
  fc.constant({ kind: 'freeze' as const }),
);

describe('TaskLedger', () => {
  it('holds exactly the tasks of the messages sent and not settled before the freeze', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 12 }),
        fc.constantFrom('r1', 'r2'),
        fc.subarray(['a', 'c', 'e']),
        async (ops, runId, except) => {
          const ledger = new TaskLedger(resources.queueUrl);
          ledger.attach(sqs);
          // The model: messages in the order sent, with their run, attempt and tasks.
          const open = new Map<string, { runId: string; attempt: number; ids: string[] }>();
          const sent: string[] = [];
          let frozen = false;
          try {
            for (const o of ops) {
              if (o.kind === 'freeze') {
                ledger.freeze();
                frozen = true;
              } else if (o.kind === 'settle') {
                const ids = o.picks.map((i) => sent[i]).filter((id): id is string => id !== undefined);
                ledger.settled(ids);
                if (!frozen) for (const id of ids) open.delete(id);
              } else {
                const queueUrl = o.other ? resources.deadLetterQueueUrl : resources.queueUrl;
                const bodies = o.messages.map((ids) => body(o.runId, o.attempt, ids));
                const messageIds: string[] = [];
                if (o.batch) {
                  const out = await sqs.send(
                    new SendMessageBatchCommand({
                      QueueUrl: queueUrl,
                      Entries: bodies.map((b, i) => ({ Id: `e${i}`, MessageBody: b })),
                    }),
                  );
                  for (let i = 0; i < bodies.length; i++)
                    messageIds.push(out.Successful?.find((s) => s.Id === `e${i}`)?.MessageId ?? '');
                } else {
                  for (const b of bodies) {
                    const out = await sqs.send(
                      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: b }),
                    );
                    messageIds.push(out.MessageId ?? '');
                  }
                }
                messageIds.forEach((id, i) => {
                  sent.push(id);
                  if (!o.other && !frozen)
                    open.set(id, { runId: o.runId, attempt: o.attempt, ids: o.messages[i] });
                });
              }
            }
          } finally {
            sqs.middlewareStack.remove('boundedFanoutTaskLedger');
          }
          const expected: { id: string; attempt: number }[] = [];
          const seen = new Set(except);
          for (const m of open.values()) {
            if (m.runId !== runId) continue;
            for (const id of m.ids) {
              if (seen.has(id)) continue;
              seen.add(id);
              expected.push({ id, attempt: m.attempt });
            }
          }
          const got = [...ledger.tasks({ jobId: 'job', runId }, new Set(except))];
          expect(got.map((t) => ({ id: t.task.id, attempt: t.attempt }))).toEqual(expected);
          expect(ledger.size).toBe(open.size);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);

  it("a send seen after its message was settled (a container thread's send crosses by message) opens nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'task-ledger-'));
    try {
      const journal = new QueueJournal(dir);
      const ledger = new TaskLedger(resources.queueUrl, journal);
      const [late, early] = [body('r1', 2, ['a']), body('r1', 1, ['b'])];
      ledger.recordSend({ QueueUrl: resources.queueUrl, MessageBody: early }, { MessageId: 'm-early' });
      // Another container received and settled m-late before the thread's "sent" for it arrived here.
      ledger.settled(['m-late', 'm-early']);
      ledger.recordSend({ QueueUrl: resources.queueUrl, MessageBody: late }, { MessageId: 'm-late' });
      expect(ledger.size).toBe(0);
      expect([...ledger.tasks({ runId: 'r1' }, new Set())]).toEqual([]);
      // A resume from the journal sends nothing again.
      expect(journal.read().open).toEqual([]);
      // Only the race is remembered: the same id sent again later (a new send) is open as usual.
      ledger.recordSend({ QueueUrl: resources.queueUrl, MessageBody: late }, { MessageId: 'm-late' });
      expect(ledger.size).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
