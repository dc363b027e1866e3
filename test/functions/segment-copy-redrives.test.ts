import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FollowUpPorts, settleThenFollowUp } from '../../functions/worker-follow-ups.js';
import {
  type DeadLetterMessage,
  MESSAGE_VERSION,
  MessageKinds,
  redriveMessage,
  type TaskMessage,
} from '../../lib/fanout/messages.js';
import { type CopyVerdict, copyVerdict, type SegmentCopy } from '../../lib/fanout/segment-copy.js';
import { settleMessage } from '../../lib/fanout/settle.js';
import type { SettleInput } from '../../lib/ledger/job-ledger.js';
import { movedKey } from '../../lib/ledger/ledger-keys.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { RUNS } from '../helpers/runs.js';
import { outcomeOf } from './fake-outcomes.js';

// The copies rule (lib/fanout/segment-copy.ts copyVerdict, as functions/segment-copies.ts applies it): two or
// three copies of one segment each ran the same tasks their own ways and dead-lettered their own failures (each
// dead letter sent once or twice, at least once), tagged with the copy's id. The first copy to settle is the
// winner; its outcomes are the run's counts. The settle may come only after some redrives. Every redrive moves
// the whole DLQ back, in a drawn order; the worker judges each message's copy by the segment's marker: a
// loser's is dropped, one of an unsettled segment goes back to the DLQ, the winner's runs (the real
// settleThenFollowUp, moving each task it ends out of `deadLettered` once). Whatever happens: the counts add up
// to the tasks and none is negative, no redrive runs a task the winner counted succeeded, every move is of a
// task the winner dead-lettered, and a task still counted dead-lettered (or never settled) keeps a dead letter
// that would run. The ledger, queue and DLQ are a FAKE: a marker per key (first settle wins) and the counts.

const record = {} as RunRecord;
const SEGMENT = 4;

interface Drawn {
  readonly tasks: number;
  /** Per copy, per task: whether that copy's run of it failed for good (dead-lettered). */
  readonly failed: readonly (readonly boolean[])[];
  /** Per copy: its dead letters were sent twice. */
  readonly sentTwice: readonly boolean[];
  /** The order the copies settle in: the first is the winner. */
  readonly settleOrder: readonly number[];
  /** The redrive before which the winner settles (past the last: never). */
  readonly settleBefore: number;
  readonly redrives: number;
  /** Per redriven message: its tasks failed again. */
  readonly failsAgain: readonly boolean[];
  /** Sort keys for each redrive's order of messages. */
  readonly order: readonly number[];
}

class World {
  readonly markers = new Map<string, unknown>();
  readonly counts = { submitted: 0, succeeded: 0, deadLettered: 0 };
  readonly dlq: DeadLetterMessage[] = [];
  /** Task ids a redrive ran, by whether the winner had counted them succeeded. */
  readonly ranAfterSuccess: string[] = [];
  readonly dropped: string[] = [];
  winner: number | undefined;
  /** The tasks the winner dead-lettered: the run's `deadLettered` at its settle. */
  readonly winnerFailed = new Set<string>();
  #ids = 0;

  settle(input: SettleInput): { applied: boolean; record: RunRecord; unread: boolean } {
    if (this.markers.has(input.key)) return { applied: false, record, unread: false };
    this.markers.set(input.key, input.state);
    for (const [name, value] of Object.entries(input.delta ?? {}))
      if (name in this.counts) this.counts[name as keyof World['counts']] += value ?? 0;
    return { applied: true, record, unread: false };
  }

  nextId(): string {
    return `m${this.#ids++}`;
  }
}

const copyOf = (c: number): SegmentCopy => ({ segment: SEGMENT, id: `c0ffee${c}` });

function deadLetter(tasks: readonly JobTask[], copy?: SegmentCopy): DeadLetterMessage {
  const records = tasks.map((task) => ({ task, attempts: 1, error: 'gone', status: 404 }));
  const envelope = {
    v: MESSAGE_VERSION,
    kind: MessageKinds.DEAD_LETTER,
    jobId: 'job',
    runId: 'run',
  } as const;
  return copy
    ? { ...envelope, source: 'orchestrator', copy, tasks: records }
    : { ...envelope, source: 'worker', tasks: records };
}

/** The winner's settle: its outcomes become the run's counts, its id the segment's marker. */
function settleSegment(world: World, drawn: Drawn, tasks: readonly JobTask[]): void {
  const winner = drawn.settleOrder[0];
  const dead = drawn.failed[winner].filter(Boolean).length;
  for (const c of drawn.settleOrder) {
    const delta = { submitted: tasks.length, succeeded: tasks.length - dead, deadLettered: dead };
    const state = { copy: copyOf(c).id };
    world.settle({ jobId: 'job', runId: 'run', key: `segment:${SEGMENT}`, delta, state });
  }
  world.winner = winner;
  tasks.forEach((t, i) => {
    if (drawn.failed[winner][i]) world.winnerFailed.add(t.id);
  });
}

/** One redriven message through the worker: judged by its copy, then (the winner's) run and settled. */
async function deliver(world: World, message: TaskMessage, dead: DeadLetterMessage, failsAgain: boolean) {
  const key = `segment:${SEGMENT}`;
  const marker = world.markers.has(key) ? { state: world.markers.get(key) } : undefined;
  const verdict: CopyVerdict = message.copy ? copyVerdict(message.copy, marker) : 'won';
  if (verdict === 'lost') {
    world.dropped.push(...message.tasks.map((t) => t.id));
    return;
  }
  if (verdict === 'unsettled') {
    world.dlq.push(dead);
    return;
  }
  for (const t of message.tasks) if (!world.winnerFailed.has(t.id)) world.ranAfterSuccess.push(t.id);
  const outcomes = message.tasks.map((t) => outcomeOf(t.id, failsAgain ? 'dead' : 'ok'));
  const ports: FollowUpPorts = {
    settle: async (input) => world.settle(input),
    kept: async (m) => world.markers.get(m.key),
    handOn: async (_m, followUps) => {
      const tasks = followUps.deadLetters.map((d) => d.task);
      if (tasks.length > 0) world.dlq.push(deadLetter(tasks));
      return {
        retried: 0,
        handedOn: 0,
        deadLettered: tasks.length,
        undeliverable: 0,
        undeliverableIds: [],
        lines: [],
      };
    },
    writeLines: async () => undefined,
    settleApart: async (input) => world.settle(input),
  };
  await settleThenFollowUp(ports, message, settleMessage(message, outcomes, 1));
}

const scenario = fc
  .record({
    tasks: fc.integer({ min: 1, max: 4 }),
    copies: fc.integer({ min: 2, max: 3 }),
    redrives: fc.integer({ min: 1, max: 3 }),
    failed: fc.array(fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), { minLength: 3, maxLength: 3 }),
    sentTwice: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    settleOrder: fc.constantFrom([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]),
    settleBefore: fc.integer({ min: 0, max: 5 }),
    failsAgain: fc.array(fc.boolean(), { maxLength: 40 }),
    order: fc.array(fc.integer(), { maxLength: 40 }),
  })
  .map(
    (d): Drawn => ({
      ...d,
      failed: d.failed.slice(0, d.copies).map((f) => f.slice(0, d.tasks)),
      sentTwice: d.sentTwice.slice(0, d.copies),
      settleOrder: d.settleOrder.filter((c) => c < d.copies),
    }),
  );

/** Each copy's dead letters (of the tasks it failed), sent once or twice. */
function copiesDeadLetters(world: World, drawn: Drawn, tasks: readonly JobTask[]): void {
  drawn.failed.forEach((failed, c) => {
    const dead = tasks.filter((_, i) => failed[i]);
    if (dead.length === 0) return;
    for (let n = drawn.sentTwice[c] ? 2 : 1; n > 0; n--) world.dlq.push(deadLetter(dead, copyOf(c)));
  });
}

/** One redrive: the whole DLQ back to the work queue, in a drawn order, each message delivered once. */
async function redriveAll(world: World, draws: { failsAgain: boolean[]; order: number[] }): Promise<void> {
  const keyed = world.dlq.splice(0).map((dead) => ({ dead, sort: draws.order.shift() ?? 0 }));
  keyed.sort((a, b) => a.sort - b.sort);
  for (const { dead } of keyed) {
    const message = redriveMessage(dead, world.nextId());
    await deliver(world, message, dead, draws.failsAgain.shift() ?? false);
  }
}

describe('dead letters of a segment run as several copies, redriven', () => {
  it('only the winning copy’s run: counts add up, none negative, no task the winner ran again, none lost', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (drawn) => {
        const tasks = Array.from({ length: drawn.tasks }, (_, i) => ({
          id: `t${i}`,
          url: `http://h/${i}`,
          mode: 'inline' as const,
        }));
        const world = new World();
        copiesDeadLetters(world, drawn, tasks);
        const draws = { failsAgain: [...drawn.failsAgain], order: [...drawn.order] };
        // The winner settles before redrive `settleBefore`, after the last one, or (past that) never.
        for (let r = 0; r <= drawn.redrives; r++) {
          if (r === drawn.settleBefore) settleSegment(world, drawn, tasks);
          if (r < drawn.redrives) await redriveAll(world, draws);
        }
        const settled = world.winner !== undefined;
        const { submitted, succeeded, deadLettered } = world.counts;
        expect(submitted).toBe(settled ? tasks.length : 0);
        expect(succeeded + deadLettered).toBe(submitted);
        expect(deadLettered).toBeGreaterThanOrEqual(0);
        // No redrive ran a task the winner counted succeeded; every move is of one it dead-lettered.
        expect(world.ranAfterSuccess).toEqual([]);
        const moved = tasks.filter((t) => world.markers.has(movedKey(t.id)));
        for (const t of moved) expect(world.winnerFailed.has(t.id)).toBe(true);
        expect(succeeded).toBe(settled ? tasks.length - world.winnerFailed.size + moved.length : 0);
        // Nothing lost: a task still counted dead-lettered has a dead letter that would run (the winner's, or a
        // worker's after a redrive failed again); before any settle, every copy's dead letter is still there.
        const runnable = (d: DeadLetterMessage) =>
          !d.copy || !settled || d.copy.id === copyOf(world.winner!).id;
        const waiting = new Set(world.dlq.filter(runnable).flatMap((d) => d.tasks.map((t) => t.task.id)));
        for (const t of tasks) {
          const stillDead = settled
            ? world.winnerFailed.has(t.id) && !moved.includes(t)
            : drawn.failed.some((failed) => failed[tasks.indexOf(t)]);
          if (stillDead) expect(waiting.has(t.id), `${t.id} has a dead letter to redrive`).toBe(true);
        }
        // Only a settled segment's losers' dead letters are dropped.
        if (!settled) expect(world.dropped).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });
});
