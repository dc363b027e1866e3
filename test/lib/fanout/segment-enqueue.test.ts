import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';
import { parseTaskMessage, readDeadLetterBody } from '../../../lib/fanout/messages.js';
import {
  type EntryFailure,
  runSegment,
  type SegmentLimits,
  type SegmentPorts,
  type SendEntry,
} from '../../../lib/fanout/segment.js';
import { emptyCounts } from '../../../lib/fanout/summary.js';
import { parseInlineManifest } from '../../../lib/manifest/index.js';
import type { ManifestItem } from '../../../lib/manifest/parse.js';
import { SQS_MAX_BATCH_ENTRIES } from '../../../lib/wire/sqs-limits.js';
import { RUNS } from '../../helpers/runs.js';

// The segment's enqueue path: manifest reader -> BoundedQueue -> `limits.enqueue` SendMessageBatch senders
// (lib/fanout/send-lane.ts). The ports are an in-memory FAKE of SQS that counts SendMessageBatch calls in
// flight; its sends can be held shut, to see how far the read runs ahead of them.

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

class FakeSqs implements SegmentPorts {
  inFlight = 0;
  peak = 0;
  readonly enqueued: string[] = [];
  readonly deadLettered: string[] = [];
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  constructor(
    readonly refuseEvery = 0,
    readonly delay: () => number = () => 0,
  ) {}
  #sends = 0;
  shut() {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }
  open() {
    this.#open();
  }
  runInline = async () => {
    throw new Error('no inline task here');
  };
  invoke = async () => {
    throw new Error('no invoke task here');
  };
  sendTasks = async (entries: readonly SendEntry[]): Promise<EntryFailure[]> => {
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    await this.#gate;
    await ticks(this.delay());
    this.inFlight--;
    const failures: EntryFailure[] = [];
    for (const entry of entries) {
      if (this.refuseEvery && ++this.#sends % this.refuseEvery === 0) {
        failures.push({ id: entry.Id, error: 'InternalError' });
        continue;
      }
      const parsed = parseTaskMessage(entry.MessageBody);
      if (!parsed.ok) throw new Error(parsed.error);
      for (const t of parsed.value.tasks) this.enqueued.push(t.id);
    }
    return failures;
  };
  sendDeadLetters = async (entries: readonly SendEntry[]): Promise<EntryFailure[]> => {
    for (const entry of entries) {
      const body = readDeadLetterBody(entry.MessageBody);
      if (body.kind === 'dead-letter') for (const t of body.message.tasks) this.deadLettered.push(t.task.id);
    }
    return [];
  };
}

function queueJob(n: number) {
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, url: `http://h/${i}`, mode: 'queue' }));
  return { jobId: 'job', runId: 'run', tasks };
}

/** The manifest's items, counting how many the segment has pulled. */
function counted(n: number) {
  const seen = { pulled: 0 };
  async function* items(): AsyncGenerator<ManifestItem> {
    for await (const item of parseInlineManifest(queueJob(n)).items) {
      seen.pulled++;
      yield item;
    }
  }
  return { seen, items: items() };
}

function segment(ports: FakeSqs, items: AsyncIterable<ManifestItem>, limits: SegmentLimits) {
  return runSegment({
    jobId: 'job',
    runId: 'run',
    items,
    startAt: 0,
    firstMessageSeq: 0,
    limits,
    budget: new FailureBudget(100),
    counts: emptyCounts(),
    shouldStop: () => false,
    ports,
  });
}

describe('runSegment: the enqueue path', () => {
  it('holds the read back while every sender is busy and the queue is full, then enqueues every task once', async () => {
    const limits = { inline: 1, enqueue: 2, invoke: 1, tasksPerMessage: 4, tasksPerInvoke: 1 };
    const ports = new FakeSqs();
    ports.shut();
    const { seen, items } = counted(400);
    const running = segment(ports, items, limits);
    await ticks(50);
    // A message closes on its 4th task, a batch on its 10th message: batch b closes on task 40b. Two
    // batches are with the senders, one waits in the queue, and the fourth's put holds the reader on task 160.
    const perBatch = limits.tasksPerMessage * SQS_MAX_BATCH_ENTRIES;
    expect(seen.pulled).toBe((limits.enqueue + 1 + 1) * perBatch);
    expect(ports.inFlight).toBe(limits.enqueue);
    ports.open();
    const result = await running;
    expect(seen.pulled).toBe(400);
    expect(ports.peak).toBe(limits.enqueue);
    expect(result.peaks.enqueue).toBe(limits.enqueue);
    expect(result.counts).toMatchObject({ read: 400, enqueued: 400, messages: 100, batches: 10 });
    expect(ports.enqueued.sort()).toEqual(
      queueJob(400)
        .tasks.map((t) => t.id)
        .sort(),
    );
  });

  it('never has more than `enqueue` SendMessageBatch calls in flight, and accounts for every task', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 7 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 2 })),
        async (enqueue, tasksPerMessage, n, refuseEvery, delays) => {
          const limits = { inline: 1, enqueue, invoke: 1, tasksPerMessage, tasksPerInvoke: 1 };
          const ports = new FakeSqs(refuseEvery, () => delays.next().value);
          const { items } = counted(n);
          const result = await segment(ports, items, limits);
          expect(ports.peak).toBeLessThanOrEqual(enqueue);
          expect(result.peaks.enqueue).toBeLessThanOrEqual(enqueue);
          const c = result.counts;
          expect(c.read).toBe(n);
          expect(c.enqueued).toBe(ports.enqueued.length);
          expect(c.deadLettered).toBe(ports.deadLettered.length);
          expect(c.enqueued + c.deadLettered).toBe(n);
          const all = [...ports.enqueued, ...ports.deadLettered].sort();
          expect(all).toEqual(
            queueJob(n)
              .tasks.map((t) => t.id)
              .sort(),
          );
        },
      ),
      { numRuns: Math.min(RUNS, 200) },
    );
  });
});
