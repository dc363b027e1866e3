import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { heldSettlement } from '../../functions/run-gate.js';
import { type FollowUpPorts, handedKey, settleThenFollowUp } from '../../functions/worker-follow-ups.js';
import { parsePlan } from '../../lib/fanout/follow-up-plan.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import { settleMessage } from '../../lib/fanout/settle.js';
import type { SettleInput } from '../../lib/ledger/job-ledger.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import { RUNS } from '../helpers/runs.js';
import { type Kind, outcomeOf } from './fake-outcomes.js';

// The rule of functions/worker-follow-ups.ts: whatever the deliveries of a message do (several at once,
// each ending its tasks its own way, any of them dying before its settle, between its settle and its
// follow-ups, half-way through them, or before its dead letters are counted), every task is counted exactly
// once and nothing is left behind. settleThenFollowUp is the real one; the world around it is a FAKE: a
// ledger that keeps a marker per key (first settle wins, with its state) and a queue that redelivers what
// failed. Every port call is a point where fast-check's scheduler interleaves the deliveries.

const MAX_ATTEMPTS = 3;
type Crash = 'none' | 'beforeSettle' | 'afterSettle' | 'midSend' | 'beforeCounted';
const record = {} as RunRecord;

/** The FAKE ledger: a marker per key, first settle wins; and per task, how many times a settle counted it. */
class World {
  readonly markers = new Map<string, unknown>();
  readonly counted = new Map<string, number>();
  readonly queue: TaskMessage[] = [];

  settle(
    input: SettleInput,
    counts: readonly string[],
  ): { applied: boolean; record: RunRecord; unread: boolean } {
    if (this.markers.has(input.key)) return { applied: false, record, unread: false };
    this.markers.set(input.key, input.state);
    for (const id of counts) this.counted.set(id, (this.counted.get(id) ?? 0) + 1);
    return { applied: true, record, unread: false };
  }
}

/**
 * One delivery of `message`: its tasks end as `kinds` says, or (`held`) it finds its run paused and holds the
 * message (functions/run-gate.ts heldSettlement); and it dies where `crash` says.
 */
async function deliver(
  world: World,
  s: fc.Scheduler,
  message: TaskMessage,
  kinds: readonly Kind[],
  crash: Crash,
  held = false,
): Promise<void> {
  const outcomes = message.tasks.map((t, i) =>
    held ? outcomeOf(t.id, 'unstarted') : outcomeOf(t.id, kinds[i] ?? 'ok'),
  );
  const settlement = held ? heldSettlement(message, 0) : settleMessage(message, outcomes, MAX_ATTEMPTS);
  const step = <A extends unknown[], R>(_label: string, f: (...a: A) => R) =>
    s.scheduleFunction(async (...a: A) => f(...a));
  const ports: FollowUpPorts = {
    settle: step('settle', (input: SettleInput) => {
      if (crash === 'beforeSettle') throw new Error('died before its settle');
      const ok = message.tasks.filter((_, i) => outcomes[i].ok).map((t) => t.id);
      return world.settle(input, ok);
    }),
    kept: step('kept', (m: TaskMessage) => world.markers.get(m.key)),
    handOn: step('handOn', (_m: TaskMessage, followUps) => {
      if (crash === 'afterSettle') throw new Error('died after its settle');
      const sent = [...followUps.retries, ...followUps.handedOn].map((f) => f.message);
      world.queue.push(...(crash === 'midSend' ? sent.slice(0, 1) : sent));
      if (crash === 'midSend') throw new Error('died half-way through its follow-ups');
      const retried = followUps.retries.reduce((n, f) => n + f.message.tasks.length, 0);
      const handedOn = followUps.handedOn.reduce((n, f) => n + f.message.tasks.length, 0);
      const deadLettered = followUps.deadLetters.length;
      return { retried, handedOn, deadLettered, undeliverable: 0, undeliverableIds: [], lines: [] };
    }),
    writeLines: step('writeLines', () => undefined),
    settleApart: step('settleApart', (input: SettleInput) => {
      if (crash === 'beforeCounted') throw new Error('died before counting its dead letters');
      const kept = parsePlan(world.markers.get(message.key), message);
      const dead = (kept?.dead ?? []).map((d) => message.tasks[d.i].id);
      expect(input.key).toBe(handedKey(message.key));
      return world.settle(input, dead);
    }),
  };
  await settleThenFollowUp(ports, message, settlement);
}

const scenario = fc.record({
  tasks: fc.integer({ min: 1, max: 4 }),
  kinds: fc.array(fc.constantFrom<Kind>('ok', 'retry', 'dead', 'unstarted'), { maxLength: 40 }),
  crashes: fc.array(
    fc.constantFrom<Crash>('none', 'beforeSettle', 'afterSettle', 'midSend', 'beforeCounted'),
    {
      maxLength: 12,
    },
  ),
  copies: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 12 }),
  holds: fc.array(fc.boolean(), { maxLength: 12 }),
});

describe('settleThenFollowUp: deliveries of one message, interleaved, some dying, some holding it', () => {
  it('counts every task exactly once and leaves nothing behind', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.scheduler(), async ({ tasks, kinds, crashes, copies, holds }, s) => {
        const world = new World();
        const first: TaskMessage = {
          v: MESSAGE_VERSION,
          kind: MessageKinds.TASKS,
          jobId: 'job',
          runId: 'run',
          key: 'job:run:0',
          attempt: 1,
          tasks: Array.from({ length: tasks }, (_, i) => ({
            id: `t${i}`,
            url: `http://h/${i}`,
            mode: 'queue',
          })),
        };
        world.queue.push(first);
        const draws = { kinds: [...kinds], crashes: [...crashes], copies: [...copies], holds: [...holds] };
        for (let rounds = 0; world.queue.length > 0; rounds++) {
          expect(rounds).toBeLessThan(200);
          const message = world.queue.shift()!;
          // Delivered `n` times at once (a redelivery past the visibility timeout, a duplicate send).
          const n = draws.copies.shift() ?? 1;
          const work = Array.from({ length: n }, () => {
            const own = message.tasks.map(() => draws.kinds.shift() ?? 'ok');
            const crash = draws.crashes.shift() ?? 'none';
            return deliver(world, s, message, own, crash, draws.holds.shift() ?? false).then(
              () => true,
              () => false,
            );
          });
          const done = await s.waitFor(Promise.all(work));
          // SQS redelivers a message until a delivery of it succeeds.
          if (!done.some(Boolean)) world.queue.push(message);
        }
        expect([...world.counted.keys()].sort()).toEqual(first.tasks.map((t) => t.id).sort());
        expect([...world.counted.values()].every((c) => c === 1)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
