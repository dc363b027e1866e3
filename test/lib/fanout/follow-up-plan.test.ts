import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emptyPlan,
  isEmptyPlan,
  keptPlan,
  PLAN_ERROR_CHARS,
  parsePlan,
} from '../../../lib/fanout/follow-up-plan.js';
import { followUpsOf, settleMessage } from '../../../lib/fanout/settle.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';
import { MAX_ERROR_CHARS } from '../../../lib/wire/sqs-limits.js';
import { RUNS } from '../../helpers/runs.js';
import { taskMessage } from '../../helpers/task-message.js';

const message = taskMessage;

const outcome = fc.constantFrom<(id: string) => TaskOutcome>(
  (id) => ({ id, ok: true, attempts: 1 }),
  (id) => ({ id, ok: false, attempts: 1, status: 503, error: 'busy' }),
  (id) => ({ id, ok: false, attempts: 1, status: 404, retryable: false, error: 'x'.repeat(5000) }),
  (id) => ({ id, ok: false, attempts: 0, unstarted: true, error: 'deadline' }),
  (id) => ({ id, ok: false, attempts: 1, status: 429, retryAfterMs: 120_500, error: 'slow down' }),
  (id) => ({ id, ok: false, attempts: 1, status: 503, retryAfterMs: 3_600_000, error: 'back later' }),
);

// Stored as DynamoDB keeps it: numbers and strings, no undefined members.
const stored = (value: unknown) => JSON.parse(JSON.stringify(value));

describe('follow-up plan: what a message sends after its first settle', () => {
  it('rebuilt from the kept plan, the follow-ups are the very messages the settling delivery sent', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 30 })
          .chain((n) => fc.tuple(fc.constant(n), fc.array(outcome, { minLength: n, maxLength: n }))),
        fc.integer({ min: 1, max: 3 }),
        ([n, makers], attempt) => {
          const m = message(n, attempt);
          const settlement = settleMessage(
            m,
            m.tasks.map((t, i) => makers[i](t.id)),
            3,
          );
          const again = followUpsOf(m, parsePlan(stored(keptPlan(settlement.plan)), m)!);
          expect(again.retries).toEqual(settlement.retries);
          expect(again.handedOn).toEqual(settlement.handedOn);
          expect(again.deadLetters.map(({ error: _, ...d }) => d)).toEqual(
            settlement.deadLetters.map(({ error: _, ...d }) => d),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('keeps the dead letters’ errors within PLAN_ERROR_CHARS in all, and whole when they fit', () => {
    const m = message(1000);
    const outcomes = m.tasks.map((t) => ({
      id: t.id,
      ok: false,
      attempts: 1,
      retryable: false,
      error: 'e'.repeat(5000),
    }));
    const kept = keptPlan(settleMessage(m, outcomes, 3).plan);
    const chars = kept.dead.reduce((n, d) => n + d.error.length, 0);
    expect(kept.dead).toHaveLength(1000);
    expect(chars).toBeLessThanOrEqual(PLAN_ERROR_CHARS + 1000);
    expect(JSON.stringify(kept).length).toBeLessThan(100_000);
    const few = keptPlan(settleMessage(message(3), outcomes.slice(0, 3), 3).plan);
    expect(few.dead.map((d) => d.error.length)).toEqual([
      MAX_ERROR_CHARS + 1,
      MAX_ERROR_CHARS + 1,
      MAX_ERROR_CHARS + 1,
    ]);
  });

  it('shortens only the errors over their share, keeping their start', () => {
    const share = PLAN_ERROR_CHARS / 2;
    const dead = [
      { i: 0, attempts: 1, error: 'a'.repeat(share) },
      { i: 1, attempts: 2, error: `${'b'.repeat(share)}c`, status: 500 },
    ];
    const kept = keptPlan({ v: 1, retry: [2], handOn: [], dead });
    expect(kept).toEqual({
      v: 1,
      retry: [2],
      handOn: [],
      dead: [dead[0], { i: 1, attempts: 2, error: `${'b'.repeat(share)}…`, status: 500 }],
    });
  });

  it('an empty plan sends nothing; a plan with anything in it is not empty', () => {
    const m = message(3);
    expect(isEmptyPlan(emptyPlan)).toBe(true);
    expect(followUpsOf(m, emptyPlan)).toEqual({ retries: [], handedOn: [], deadLetters: [] });
    for (const plan of [
      { ...emptyPlan, retry: [0] },
      { ...emptyPlan, handOn: [1] },
      { ...emptyPlan, dead: [{ i: 2, attempts: 1, error: 'x' }] },
    ]) {
      expect(isEmptyPlan(plan)).toBe(false);
    }
  });

  it('a kept value that is not a plan for the message is refused, naming the field and the value', () => {
    const m = message(3);
    expect(parsePlan(undefined, m)).toBeUndefined();
    expect(parsePlan(null, m)).toBeUndefined();
    expect(parsePlan({ v: 1, retry: [], handOn: [], dead: [{ i: 1, attempts: 2, error: 'e' }] }, m)).toEqual({
      v: 1,
      retry: [],
      handOn: [],
      dead: [{ i: 1, attempts: 2, error: 'e' }],
    });
    expect(() => parsePlan({ v: 2 }, m)).toThrow(
      'Expected `plan of job:run:7.v` to be plan version 1, got 2',
    );
    expect(() => parsePlan('plan', m)).toThrow(/`plan of job:run:7\.v`/);
    expect(() => parsePlan({ v: 1, retry: [], handOn: [0, 9], dead: [] }, m)).toThrow(
      /`plan of job:run:7\.handOn\[1\]` to be a task position under 3, got 9/,
    );
    expect(() => parsePlan({ v: 1, retry: [3], handOn: [], dead: [] }, m)).toThrow(
      /`plan of job:run:7\.retry\[0\]` to be a task position under 3, got 3/,
    );
    expect(() => parsePlan({ v: 1, retry: [], handOn: 'x', dead: [] }, m)).toThrow(/handOn.*an array/);
    expect(() => parsePlan({ v: 1, retry: [], handOn: [], dead: [{ i: -1 }] }, m)).toThrow(/dead\[0\]\.i/);
    expect(() => parsePlan({ v: 1, retry: [], handOn: [0], dead: [], holdSeconds: 901 }, m)).toThrow(
      /`plan of job:run:7\.holdSeconds` to be an SQS delay, 0 to 900 seconds, got 901/,
    );
    expect(() => parsePlan({ v: 1, retry: [], handOn: [0], dead: [], holdSeconds: '5' }, m)).toThrow(
      /holdSeconds/,
    );
    expect(() => parsePlan({ v: 1, retry: [0], handOn: [], dead: [], retryAfterSeconds: 901 }, m)).toThrow(
      /`plan of job:run:7\.retryAfterSeconds` to be an SQS delay, 0 to 900 seconds, got 901/,
    );
    expect(() => parsePlan({ v: 1, retry: [0], handOn: [], dead: [], retryAfterSeconds: 1.5 }, m)).toThrow(
      /retryAfterSeconds/,
    );
  });

  it('a retry’s Retry-After wait, kept and rebuilt, sends the same retry message with its delay', () => {
    const m = message(3);
    const plan = { v: 1 as const, retry: [0, 2], handOn: [], dead: [], retryAfterSeconds: 120 };
    const kept = parsePlan(stored(keptPlan(plan)), m)!;
    expect(kept).toEqual(plan);
    const [retry] = followUpsOf(m, kept).retries;
    expect(retry).toMatchObject({ delaySeconds: 120, message: { key: `${m.key}#2`, attempt: 2 } });
    expect(retry.message.tasks).toEqual([m.tasks[0], m.tasks[2]]);
  });

  it('a paused run’s hold, kept and rebuilt, sends the same held message with its delay', () => {
    const m = message(3);
    const plan = { v: 1 as const, retry: [], handOn: [0, 1, 2], dead: [], holdSeconds: 10 };
    const kept = parsePlan(stored(keptPlan(plan)), m)!;
    expect(kept).toEqual(plan);
    const [held] = followUpsOf(m, kept).handedOn;
    expect(held).toMatchObject({ delaySeconds: 10, message: { key: `${m.key}~1`, tasks: m.tasks } });
    // A plan without a hold hands on at once, as before.
    expect(followUpsOf(m, { ...plan, holdSeconds: undefined }).handedOn[0].delaySeconds).toBe(0);
  });
});
