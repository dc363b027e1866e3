import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../../lib/fanout/batcher.js';
import {
  encodeMessage,
  MESSAGE_VERSION,
  MessageKinds,
  parseTaskMessage,
} from '../../../lib/fanout/messages.js';
import { newSendBatcher } from '../../../lib/fanout/segment.js';
import type { JobTask } from '../../../lib/manifest/schema.js';
import {
  MAX_TASK_BYTES,
  SQS_MAX_BATCH_BYTES,
  SQS_MAX_BATCH_ENTRIES,
  SQS_MAX_MESSAGE_BYTES,
  TASK_ENVELOPE_BYTES,
} from '../../../lib/wire/sqs-limits.js';
import { RUNS } from '../../helpers/runs.js';

function groupAll<T>(batcher: Batcher<T>, items: readonly [T, number][]): T[][] {
  const groups: T[][] = [];
  for (const [item, bytes] of items) {
    const group = batcher.add(item, bytes);
    if (group) groups.push(group.items);
  }
  const last = batcher.flush();
  if (last) groups.push(last.items);
  return groups;
}

describe('Batcher', () => {
  it('keeps every group under both caps, loses nothing, keeps order, and closes a group only when it must', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 50, max: 400 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.nat(), { maxLength: 80 }),
        (maxItems, maxBytes, overheadBytes, separatorBytes, raw) => {
          const batcher = new Batcher<number>({ maxItems, maxBytes, overheadBytes, separatorBytes });
          const sizes = raw.map((r) => r % (batcher.maxItemBytes + 1));
          const groups = groupAll(
            batcher,
            sizes.map((s, i) => [i, s] as [number, number]),
          );
          expect(groups.flat()).toEqual(sizes.map((_, i) => i));
          const bytesOf = (g: number[]) =>
            overheadBytes + g.reduce((n, i) => n + sizes[i], 0) + separatorBytes * Math.max(0, g.length - 1);
          for (const [k, group] of groups.entries()) {
            expect(group.length).toBeGreaterThan(0);
            expect(group.length).toBeLessThanOrEqual(maxItems);
            expect(bytesOf(group)).toBeLessThanOrEqual(maxBytes);
            // Greedy: a group that is not full by count closed because the next item did not fit.
            const next = groups[k + 1];
            if (next && group.length < maxItems)
              expect(bytesOf([...group, next[0]])).toBeGreaterThan(maxBytes);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses an item that could never fit, by name', () => {
    const batcher = new Batcher({ maxItems: 2, maxBytes: 100, overheadBytes: 10 });
    expect(() => batcher.add('x', 91)).toThrow(
      'Expected `bytes` to be at most 90 (one item must fit one group), got 91',
    );
    expect(() => new Batcher({ maxItems: 0, maxBytes: 10 })).toThrow(RangeError);
    expect(() => new Batcher({ maxItems: 1, maxBytes: 10, overheadBytes: 10 })).toThrow('overheadBytes');
  });
});

describe('packing real task messages and SendMessageBatch calls', () => {
  const task = (i: number, bodyBytes: number): JobTask => ({
    id: `task-${i}`,
    url: `https://example.com/${i}`,
    method: 'POST',
    body: 'b'.repeat(bodyBytes),
    mode: 'queue',
  });

  it('builds bodies under 256 KiB and batches under 10 entries and 256 KiB, from tiny to largest tasks', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: MAX_TASK_BYTES - 200 })),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        fc.integer({ min: 1, max: 40 }),
        (bodies, tasksPerMessage) => {
          const packer = new Batcher<JobTask>({
            maxItems: tasksPerMessage,
            maxBytes: SQS_MAX_MESSAGE_BYTES,
            overheadBytes: TASK_ENVELOPE_BYTES,
            separatorBytes: 1,
          });
          const tasks = bodies.map((b, i) => task(i, b));
          const packs = groupAll(
            packer,
            tasks.map((t) => [t, Buffer.byteLength(JSON.stringify(t))] as [JobTask, number]),
          );
          const envelope = {
            v: MESSAGE_VERSION,
            kind: MessageKinds.TASKS,
            jobId: 'j'.repeat(128),
            runId: 'r'.repeat(128),
            key: `${'j'.repeat(128)}:${'r'.repeat(128)}:123456789`,
            attempt: 1,
          };
          const bodiesOut = packs.map((p) =>
            encodeMessage(
              envelope,
              p.map((t) => JSON.stringify(t)),
            ),
          );
          for (const body of bodiesOut) {
            expect(Buffer.byteLength(body)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
            const parsed = parseTaskMessage(body);
            expect(parsed.ok).toBe(true);
          }
          const batches = groupAll(
            newSendBatcher<string>(),
            bodiesOut.map((b) => [b, Buffer.byteLength(b)] as [string, number]),
          );
          for (const batch of batches) {
            expect(batch.length).toBeLessThanOrEqual(SQS_MAX_BATCH_ENTRIES);
            expect(batch.reduce((n, b) => n + Buffer.byteLength(b), 0)).toBeLessThanOrEqual(
              SQS_MAX_BATCH_BYTES,
            );
          }
          expect(batches.flat().length).toBe(packs.length);
          expect(packs.flat().map((t) => t.id)).toEqual(tasks.map((t) => t.id));
        },
      ),
      { numRuns: Math.min(RUNS, 200) },
    );
  });

  it('packs 25 small tasks a message by default and 10 messages a call', () => {
    const packer = new Batcher<JobTask>({
      maxItems: 25,
      maxBytes: SQS_MAX_MESSAGE_BYTES,
      overheadBytes: TASK_ENVELOPE_BYTES,
      separatorBytes: 1,
    });
    const packs = groupAll(
      packer,
      Array.from({ length: 1000 }, (_, i) => [task(i, 10), 80] as [JobTask, number]),
    );
    expect(packs.map((p) => p.length)).toEqual(Array(40).fill(25));
    const batches = groupAll(
      newSendBatcher<number>(),
      packs.map((_, i) => [i, 2100] as [number, number]),
    );
    expect(batches.map((b) => b.length)).toEqual([10, 10, 10, 10]);
  });
});
