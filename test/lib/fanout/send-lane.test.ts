import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntryFailure, SendEntry } from '../../../lib/fanout/segment.js';
import type { IsolatedSend, Packet } from '../../../lib/fanout/send-isolated.js';
import { halfId, halves } from '../../../lib/fanout/send-isolated.js';
import { SendLane } from '../../../lib/fanout/send-lane.js';
import { SQS_MAX_BATCH_ENTRIES } from '../../../lib/wire/sqs-limits.js';
import { RUNS } from '../../helpers/runs.js';

// The send lane is the bounded queue with N consumers on the orchestrator's enqueue path. Its `send` here
// is an in-memory FAKE of SendMessageBatch that counts the calls in flight and refuses, for the sender's
// fault, any entry holding a poisoned item.

type NumPacket = Packet<number>;

const packetOf = (id: string, items: readonly number[]): NumPacket => ({
  entry: { Id: id, MessageBody: items.join(',') },
  items,
  bytes: 16 * items.length,
});
const split = (p: NumPacket) => halves(p.items).map((items, i) => packetOf(halfId(p.entry.Id, i), items));
const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

class FakeSqs {
  inFlight = 0;
  peak = 0;
  calls = 0;
  readonly #poison: ReadonlySet<number>;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  constructor(
    poison: ReadonlySet<number> = new Set(),
    readonly delay: () => number = () => 0,
  ) {
    this.#poison = poison;
  }
  close() {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }
  open() {
    this.#open();
  }
  send = async (entries: readonly SendEntry[]): Promise<EntryFailure[]> => {
    this.calls++;
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    await this.#gate;
    await ticks(this.delay());
    this.inFlight--;
    return entries
      .filter((e) => e.MessageBody.split(',').some((item) => this.#poison.has(Number(item))))
      .map((e) => ({ id: e.Id, error: 'InvalidMessageContents', senderFault: true }));
  };
}

function laneOf(sqs: FakeSqs, senders: number, maxQueued: number) {
  const outcomes: IsolatedSend<NumPacket>[] = [];
  const bugs: unknown[] = [];
  const lane = new SendLane<NumPacket>({
    senders,
    maxQueued,
    send: sqs.send,
    split,
    onSent: (out) => outcomes.push(out),
    onBug: (error) => bugs.push(error),
  });
  return { lane, outcomes, bugs };
}

describe('SendLane', () => {
  it('holds the producer back once every sender is busy and the queue is full, and loses nothing', async () => {
    const sqs = new FakeSqs();
    sqs.close();
    const { lane, outcomes, bugs } = laneOf(sqs, 2, 1);
    let added = 0;
    const adds: Promise<void>[] = [];
    // One-item packets: a batch closes when its 10th packet fills it, so batch b closes on packet 10b.
    for (let i = 0; i < 60; i++) {
      const add = lane.add(packetOf(`p${i}`, [i]));
      adds.push(add.then(() => void added++));
      await Promise.race([add, ticks(5)]);
      if (added < i + 1) break;
    }
    await ticks(20);
    // Two batches with the senders, one queued, the fourth's put waits: packets 1..39 added, the 40th held.
    expect(added).toBe(4 * SQS_MAX_BATCH_ENTRIES - 1);
    expect(sqs.inFlight).toBe(2);
    expect(lane.peakQueued).toBe(1);
    sqs.open();
    await Promise.all(adds);
    await lane.close();
    expect(bugs).toEqual([]);
    const sent = outcomes.flatMap((o) => o.sent.flatMap((p) => p.items));
    expect(sent.sort((a, b) => a - b)).toEqual(
      Array.from({ length: 4 * SQS_MAX_BATCH_ENTRIES }, (_, i) => i),
    );
    expect(sqs.peak).toBe(2);
    expect(lane.peakInFlight).toBe(2);
  });

  it('never has more than `senders` calls in flight or `maxQueued` batches waiting; every item sent or refused once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.array(fc.constant(0), { minLength: 1, maxLength: 6 }), { maxLength: 150, size: 'max' }),
        fc.uniqueArray(fc.nat(600), { maxLength: 5 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 3 })),
        async (senders, maxQueued, groups, poison, delays) => {
          // Items are numbered by position, so each is unique; poison picks positions.
          let n = 0;
          const numbered = groups.map((g) => g.map(() => n++));
          const poisoned = new Set(poison.filter((p) => p < n));
          const sqs = new FakeSqs(poisoned, () => delays.next().value);
          const { lane, outcomes, bugs } = laneOf(sqs, senders, maxQueued);
          for (const [i, items] of numbered.entries()) await lane.add(packetOf(`p${i}`, items));
          await lane.close();
          expect(bugs).toEqual([]);
          expect(sqs.peak).toBeLessThanOrEqual(senders);
          expect(lane.peakInFlight).toBeLessThanOrEqual(senders);
          expect(lane.peakQueued).toBeLessThanOrEqual(maxQueued);
          const sent = outcomes.flatMap((o) => o.sent.flatMap((p) => p.items));
          const refused = outcomes.flatMap((o) => o.refused.flatMap((r) => r.packet.items));
          expect([...sent, ...refused].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
          // Only the poisoned items are refused, each alone.
          expect(refused.sort((a, b) => a - b)).toEqual([...poisoned].sort((a, b) => a - b));
          for (const o of outcomes) for (const r of o.refused) expect(r.packet.items).toHaveLength(1);
          expect(outcomes.reduce((c, o) => c + o.calls, 0)).toBe(sqs.calls);
        },
      ),
      { numRuns: Math.min(RUNS, 200) },
    );
  });

  it('refuses bad options, naming them', () => {
    const sqs = new FakeSqs();
    expect(() => laneOf(sqs, 0, 1)).toThrow('Expected `senders` to be an integer >= 1, got 0');
    expect(() => laneOf(sqs, 1, 0)).toThrow('Expected `maxQueued` to be an integer >= 1, got 0');
  });
});

describe('SendLane, an onSent that throws', () => {
  it('hands the error to onBug and sends the next batch', async () => {
    const sqs = new FakeSqs();
    const bugs: unknown[] = [];
    const told: number[][] = [];
    const lane = new SendLane<NumPacket>({
      senders: 1,
      maxQueued: 2,
      send: sqs.send,
      split,
      onSent: (out) => {
        told.push(out.sent.flatMap((p) => p.items));
        if (told.length === 1) throw new Error('onSent bug');
      },
      onBug: (error) => bugs.push(error),
    });
    for (let i = 0; i < 2 * SQS_MAX_BATCH_ENTRIES; i++) await lane.add(packetOf(`p${i}`, [i]));
    await lane.close();
    expect(bugs.map((e) => (e as Error).message)).toEqual(['onSent bug']);
    expect(told).toEqual([
      Array.from({ length: SQS_MAX_BATCH_ENTRIES }, (_, i) => i),
      Array.from({ length: SQS_MAX_BATCH_ENTRIES }, (_, i) => i + SQS_MAX_BATCH_ENTRIES),
    ]);
    expect(sqs.calls).toBe(2);
  });
});
