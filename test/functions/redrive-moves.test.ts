import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FollowUpPorts, settleThenFollowUp } from '../../functions/worker-follow-ups.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import { settleMessage } from '../../lib/fanout/settle.js';
import type { SettleInput } from '../../lib/ledger/job-ledger.js';
import { movedKey } from '../../lib/ledger/ledger-keys.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { RUNS } from '../helpers/runs.js';
import { type Kind, outcomeOf, TOO_BIG } from './fake-outcomes.js';

// The redrive rule of functions/worker-hand-on.ts (movedSettles): a run counted its tasks dead-lettered;
// the DLQ may hold copies of their dead letters (a send is at least once, a redrive may be run twice), and
// every copy comes back as a message of its own key, delivered once or several times at once, its deliveries
// ending tasks their own ways and dying anywhere. Whatever happens, each task leaves `deadLettered` at most
// once, only for an outcome it had, and a task that never left it still has a dead letter: nothing is lost,
// nothing counted twice. settleThenFollowUp is the real one; the world around it is a FAKE: a ledger that
// keeps a marker per key (first settle wins, with its state) and adds its delta, a queue, and a DLQ. Every port call is a
// point where fast-check's scheduler interleaves the deliveries.

const MAX_ATTEMPTS = 3;
type Crash = 'none' | 'beforeMoves' | 'beforeSettle' | 'afterSettle' | 'midSend' | 'beforeCounted';
const record = {} as RunRecord;

class World {
  readonly markers = new Map<string, unknown>();
  /** Per move key, the count its task moved to. */
  readonly moves = new Map<string, string>();
  readonly counts = { succeeded: 0, deadLettered: 0, undeliverable: 0 };
  readonly queue: TaskMessage[] = [];
  /** The DLQ: each entry one copy of a dead letter, its tasks. */
  readonly dlq: JobTask[][] = [];
  /** Tasks some delivery ended each way (a move must be one of them). */
  readonly had = { ok: new Set<string>(), undeliverable: new Set<string>() };
  #copies = 0;

  constructor(tasks: readonly JobTask[]) {
    this.counts.deadLettered = tasks.length;
  }

  settle(input: SettleInput): { applied: boolean; record: RunRecord; unread: boolean } {
    if (this.markers.has(input.key)) return { applied: false, record, unread: false };
    this.markers.set(input.key, input.state);
    const as = Object.keys(input.delta ?? {}).find((name) => name !== 'deadLettered');
    if (input.key.startsWith('#moved')) this.moves.set(input.key, as ?? 'none');
    for (const [name, value] of Object.entries(input.delta ?? {}))
      this.counts[name as keyof World['counts']] += value ?? 0;
    return { applied: true, record, unread: false };
  }

  /** Every DLQ copy back on the queue, each a redrive message keyed by its own (new) SQS id. */
  redriveAll(): void {
    for (const tasks of this.dlq.splice(0)) {
      this.queue.push({
        v: MESSAGE_VERSION,
        kind: MessageKinds.TASKS,
        jobId: 'job',
        runId: 'run',
        key: `job:run:redrive:m${this.#copies++}`,
        attempt: 1,
        redrive: true,
        tasks,
      });
    }
  }
}

/** One delivery of `message`: its tasks end as `kinds` says, and it dies where `crash` says. */
async function deliver(
  world: World,
  s: fc.Scheduler,
  message: TaskMessage,
  kinds: readonly Kind[],
  crash: Crash,
  sentTwice: boolean,
): Promise<void> {
  const outcomes = message.tasks.map((t, i) => outcomeOf(t.id, kinds[i] ?? 'ok'));
  message.tasks.forEach((t, i) => {
    if (outcomes[i].ok) world.had.ok.add(t.id);
  });
  const settlement = settleMessage(message, outcomes, MAX_ATTEMPTS);
  // The step's body runs when the scheduler releases it: a crash then rejects the caller's own promise (a
  // body run at the call would leave the rejection unhandled while its release waits).
  const step =
    <A extends unknown[], R>(label: string, f: (...a: A) => R) =>
    (...a: A) =>
      s.schedule(Promise.resolve(), label).then(() => f(...a));
  const ports: FollowUpPorts = {
    settle: step('settle', (input: SettleInput) => {
      if (crash === 'beforeSettle') throw new Error('died before its settle');
      return world.settle(input);
    }),
    kept: step('kept', (m: TaskMessage) => world.markers.get(m.key)),
    handOn: step('handOn', (_m: TaskMessage, followUps) => {
      if (crash === 'afterSettle') throw new Error('died after its settle');
      const sent = [...followUps.retries, ...followUps.handedOn].map((f) => f.message);
      world.queue.push(...(crash === 'midSend' ? sent.slice(0, 1) : sent));
      if (crash === 'midSend') throw new Error('died half-way through its follow-ups');
      const refused = followUps.deadLetters.filter((d) => d.error === TOO_BIG).map((d) => d.task);
      const dead = followUps.deadLetters.filter((d) => d.error !== TOO_BIG).map((d) => d.task);
      for (const t of refused) world.had.undeliverable.add(t.id);
      if (dead.length > 0) world.dlq.push(...(sentTwice ? [dead, dead] : [dead]));
      const count = (fs: typeof followUps.retries) => fs.reduce((n, f) => n + f.message.tasks.length, 0);
      return {
        retried: count(followUps.retries),
        handedOn: count(followUps.handedOn),
        deadLettered: dead.length,
        undeliverable: refused.length,
        undeliverableIds: refused.map((t) => t.id),
        lines: [],
      };
    }),
    writeLines: step('writeLines', () => undefined),
    settleApart: step('settleApart', (input: SettleInput) => {
      const moveOfSuccess = (input.delta?.succeeded ?? 0) > 0;
      if (crash === 'beforeMoves' && moveOfSuccess) throw new Error('died before its moves');
      if (crash === 'beforeCounted' && !moveOfSuccess)
        throw new Error('died before counting its dead letters');
      return world.settle(input);
    }),
  };
  await settleThenFollowUp(ports, message, settlement);
}

const scenario = fc.record({
  tasks: fc.integer({ min: 1, max: 4 }),
  copies: fc.integer({ min: 1, max: 3 }),
  redrives: fc.integer({ min: 1, max: 3 }),
  kinds: fc.array(fc.constantFrom<Kind>('ok', 'retry', 'dead', 'undeliverable', 'unstarted'), {
    maxLength: 60,
  }),
  crashes: fc.array(
    fc.constantFrom<Crash>('none', 'beforeMoves', 'beforeSettle', 'afterSettle', 'midSend', 'beforeCounted'),
    { maxLength: 16 },
  ),
  deliveries: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 16 }),
  sentTwice: fc.array(fc.boolean(), { maxLength: 16 }),
});

describe('redriven dead letters: copies of them, deliveries interleaved, some dying', () => {
  it('moves each task out of deadLettered at most once, for an outcome it had, and loses none', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.scheduler(), async (drawn, s) => {
        const tasks = Array.from({ length: drawn.tasks }, (_, i) => ({
          id: `t${i}`,
          url: `http://h/${i}`,
          mode: 'queue' as const,
        }));
        const world = new World(tasks);
        for (let c = 0; c < drawn.copies; c++) world.dlq.push(tasks);
        const draws = {
          kinds: [...drawn.kinds],
          crashes: [...drawn.crashes],
          deliveries: [...drawn.deliveries],
          sentTwice: [...drawn.sentTwice],
        };
        for (let r = 0; r < drawn.redrives; r++) {
          world.redriveAll();
          for (let rounds = 0; world.queue.length > 0; rounds++) {
            expect(rounds).toBeLessThan(300);
            const message = world.queue.shift()!;
            const n = draws.deliveries.shift() ?? 1;
            const work = Array.from({ length: n }, () => {
              const own = message.tasks.map(() => draws.kinds.shift() ?? 'ok');
              const crash = draws.crashes.shift() ?? 'none';
              const twice = draws.sentTwice.shift() ?? false;
              return deliver(world, s, message, own, crash, twice).then(
                () => true,
                () => false,
              );
            });
            const done = await s.waitFor(Promise.all(work));
            if (!done.some(Boolean)) world.queue.push(message); // SQS redelivers it
          }
        }
        const { succeeded, deadLettered, undeliverable } = world.counts;
        expect(succeeded + deadLettered + undeliverable).toBe(tasks.length);
        expect(deadLettered).toBeGreaterThanOrEqual(0);
        const moved = tasks.filter((t) => world.markers.has(movedKey(t.id)));
        expect(succeeded + undeliverable).toBe(moved.length);
        expect(world.moves.size).toBe(moved.length);
        // Each moved to what it had: succeeded only if some delivery saw it succeed, undeliverable only if SQS
        // refused its dead letter.
        for (const t of moved) {
          const as = world.moves.get(movedKey(t.id));
          const had =
            as === 'succeeded' ? world.had.ok : as === 'undeliverable' ? world.had.undeliverable : undefined;
          expect(had?.has(t.id), `${t.id} moved to ${as}`).toBe(true);
        }
        // A task still counted dead-lettered has a dead letter to redrive.
        const inDlq = new Set(world.dlq.flat().map((t) => t.id));
        for (const t of tasks) if (!world.markers.has(movedKey(t.id))) expect(inDlq.has(t.id)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
