import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';
import { parseTaskMessage, readDeadLetterBody } from '../../../lib/fanout/messages.js';
import { retryDelaySeconds, settleMessage } from '../../../lib/fanout/settle.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';
import { RUNS } from '../../helpers/runs.js';
import { taskMessage } from '../../helpers/task-message.js';

const message = taskMessage;

const byIndex = (a: string, b: string) => Number(a.slice(1)) - Number(b.slice(1));

describe('settleMessage: each task ends exactly once', () => {
  it('hands on only the failed tasks, in one retry message with the next attempt and a deterministic key', () => {
    const m = message(5);
    const outcomes: TaskOutcome[] = m.tasks.map((t, i) =>
      i % 2 === 0
        ? { id: t.id, ok: true, attempts: 1 }
        : { id: t.id, ok: false, status: 503, attempts: 4, error: 'BF_HTTP_STATUS: 503' },
    );
    outcomes[2] = { ...outcomes[2], duplicate: true };
    const s = settleMessage(m, outcomes, 5);
    expect(s.succeeded).toBe(2);
    expect(s.duplicates).toBe(1);
    expect(s.deadLetters).toEqual([]);
    expect(s.retries).toHaveLength(1);
    const [{ message: retry, delaySeconds }] = s.retries;
    expect(retry.tasks.map((t) => t.id)).toEqual(['t1', 't3']);
    expect(retry.attempt).toBe(2);
    expect(retry.key).toBe('job:run:7#2');
    expect(delaySeconds).toBe(2);
    expect(settleMessage(m, outcomes, 5)).toEqual(s);
    expect(parseTaskMessage(JSON.stringify(retry)).ok).toBe(true);
  });

  it('a segment copy’s message (a redriven dead letter, a paused hand-off): its follow-ups carry no copy', () => {
    // Settled only once the copy was judged the winner, for good: its retries and hand-ons need no second look.
    const m = { ...message(3), redrive: true as const, copy: { segment: 2, id: 'c0ffee' } };
    const outcomes: TaskOutcome[] = [
      { id: 't0', ok: false, status: 503, attempts: 1, error: 'BF_HTTP_STATUS: 503' },
      { id: 't1', ok: false, attempts: 0, unstarted: true, error: 'paused' },
      { id: 't2', ok: true, attempts: 1 },
    ];
    const s = settleMessage(m, outcomes, 5);
    const sent = [...s.retries, ...s.handedOn].map((f) => f.message);
    expect(sent.map((f) => [f.key, f.tasks.map((t) => t.id)])).toEqual([
      ['job:run:7#2', ['t0']],
      ['job:run:7~1', ['t1']],
    ]);
    for (const f of sent) {
      expect(f).not.toHaveProperty('copy');
      expect(f.redrive).toBe(true);
    }
  });

  it('dead-letters the failed tasks alone, with their last error, once the attempts are spent', () => {
    const m = message(3, 5);
    const outcomes: TaskOutcome[] = [
      { id: 't0', ok: true, attempts: 1 },
      { id: 't1', ok: false, status: 500, attempts: 4, error: 'BF_HTTP_STATUS: 500' },
      { id: 't2', ok: false, status: 0, attempts: 1, error: 'x'.repeat(5000) },
    ];
    const s = settleMessage(m, outcomes, 5);
    expect(s.retries).toEqual([]);
    expect(s.deadLetters.map((d) => [d.task.id, d.attempts, d.status])).toEqual([
      ['t1', 5, 500],
      ['t2', 5, 0],
    ]);
    expect(s.deadLetters[0].error).toBe('BF_HTTP_STATUS: 500');
    expect(s.deadLetters[1].error.length).toBe(1025);
  });

  it('dead-letters a permanent failure on its first delivery, with that delivery as its attempts', () => {
    const m = message(3, 1);
    const outcomes: TaskOutcome[] = [
      { id: 't0', ok: false, status: 404, attempts: 1, retryable: false, error: 'BF_HTTP_STATUS: 404' },
      { id: 't1', ok: false, status: 503, attempts: 4, retryable: true, error: 'BF_HTTP_STATUS: 503' },
      { id: 't2', ok: false, status: 0, attempts: 0, retryable: false, error: 'BF_INVALID_ARGUMENT: x' },
    ];
    const s = settleMessage(m, outcomes, 5);
    expect(s.deadLetters.map((d) => [d.task.id, d.attempts, d.status, d.error])).toEqual([
      ['t0', 1, 404, 'BF_HTTP_STATUS: 404'],
      ['t2', 1, 0, 'BF_INVALID_ARGUMENT: x'],
    ]);
    expect(s.retries.map((r) => r.message.tasks.map((t) => t.id))).toEqual([['t1']]);
  });

  it('hands on the unstarted tasks with their attempt, no delay, and a key that counts the hand-ons', () => {
    const m = { ...message(4, 5), key: 'job:run:7#5' };
    const outcomes: TaskOutcome[] = [
      { id: 't0', ok: true, attempts: 1 },
      { id: 't1', ok: false, attempts: 0, retryable: true, unstarted: true, error: 'BF_DEADLINE: x' },
      { id: 't2', ok: false, status: 503, attempts: 2, retryable: true, error: 'BF_HTTP_STATUS: 503' },
      { id: 't3', ok: false, attempts: 0, retryable: true, unstarted: true, error: 'BF_DEADLINE: x' },
    ];
    const s = settleMessage(m, outcomes, 5);
    expect(s.handedOn).toHaveLength(1);
    const [{ message: next, delaySeconds }] = s.handedOn;
    expect([next.key, next.attempt, delaySeconds, next.tasks.map((t) => t.id)]).toEqual([
      'job:run:7#5~1',
      5,
      0,
      ['t1', 't3'],
    ]);
    // The retryable failure was on its last delivery: dead-lettered, the unstarted ones not.
    expect(s.deadLetters.map((d) => [d.task.id, d.attempts])).toEqual([['t2', 5]]);
    expect(settleMessage(m, outcomes, 5)).toEqual(s);
    const again = settleMessage(next, [outcomes[1], outcomes[3]], 5);
    expect(again.handedOn[0].message.key).toBe('job:run:7#5~2');
    expect(parseTaskMessage(JSON.stringify(next)).ok).toBe(true);
  });

  it('each task ends in exactly one of succeeded, retried, dead-lettered, handed on, whatever the outcomes and attempt', () => {
    const kinds = ['ok', 'dup', 'retryable', 'unsaid', 'permanent', 'unstarted'] as const;
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...kinds), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 30, maxLength: 30 }),
        (picked, attempt, maxAttempts, tries) => {
          const m = message(picked.length, attempt);
          const outcomes = picked.map((k, i): TaskOutcome => {
            const failed = { id: `t${i}`, ok: false, attempts: tries[i], error: 'e' };
            if (k === 'ok' || k === 'dup')
              return { id: `t${i}`, ok: true, attempts: 1, duplicate: k === 'dup' };
            if (k === 'retryable') return { ...failed, retryable: true };
            if (k === 'permanent') return { ...failed, retryable: false };
            if (k === 'unstarted') return { ...failed, attempts: 0, retryable: true, unstarted: true };
            return failed; // a failure that does not say: retryable
          });
          const s = settleMessage(m, outcomes, maxAttempts);
          const ids = (kind: (typeof kinds)[number][]) =>
            picked.flatMap((k, i) => (kind.includes(k) ? [`t${i}`] : []));
          const retried = s.retries.flatMap((r) => r.message.tasks.map((t) => t.id));
          const handedOn = s.handedOn.flatMap((r) => r.message.tasks.map((t) => t.id));
          const dead = s.deadLetters.map((d) => d.task.id);
          const ended = [...retried, ...handedOn, ...dead];
          // Exactly one end each: no task twice, none missing.
          expect(s.succeeded + s.duplicates + ended.length).toBe(picked.length);
          expect(new Set(ended).size).toBe(ended.length);
          expect([s.succeeded, s.duplicates]).toEqual([ids(['ok']).length, ids(['dup']).length]);
          // Unstarted tasks keep their attempt, whatever it is; permanent ones are never retried.
          expect(handedOn).toEqual(ids(['unstarted']));
          for (const h of s.handedOn) expect([h.message.attempt, h.delaySeconds]).toEqual([attempt, 0]);
          const failing = ids(['retryable', 'unsaid']);
          expect(retried).toEqual(attempt < maxAttempts ? failing : []);
          for (const r of s.retries) expect(r.message.attempt).toBe(attempt + 1);
          expect(dead).toEqual(
            ids(attempt < maxAttempts ? ['permanent'] : ['permanent', 'retryable', 'unsaid']).sort(byIndex),
          );
          for (const d of s.deadLetters) expect(d.attempts).toBe(attempt);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('doubles the retry delay per attempt, at most 900 s', () => {
    expect([1, 2, 3, 4].map((a) => retryDelaySeconds(5, a))).toEqual([5, 10, 20, 40]);
    expect(retryDelaySeconds(600, 3)).toBe(900);
    expect(retryDelaySeconds(0, 4)).toBe(0);
  });
});

describe('messages', () => {
  it('names the field of a bad message', () => {
    expect(parseTaskMessage('{oops').ok).toBe(false);
    const notJson = parseTaskMessage('{oops');
    expect(!notJson.ok && notJson.error).toMatch(/^body: is not valid JSON/);
    const bad = parseTaskMessage(
      JSON.stringify({ ...message(1), attempt: 0, tasks: [{ id: 'a', url: 'ftp://x' }] }),
    );
    expect(!bad.ok && bad.error).toBe(
      'attempt: 0 is not an attempt number; tasks[0].url: "ftp://x" is not an http(s) URL',
    );
    const empty = parseTaskMessage(JSON.stringify({ ...message(1), tasks: [] }));
    expect(!empty.ok && empty.error).toBe('tasks: an array of 0 is empty');
  });

  it('tells what a DLQ body holds', () => {
    expect(readDeadLetterBody('nope').kind).toBe('unreadable');
    expect(readDeadLetterBody(JSON.stringify(message(2))).kind).toBe('tasks');
    const dead = { v: 1, kind: 'dead-letter', jobId: 'j', runId: 'r', source: 'worker', tasks: [] };
    expect(readDeadLetterBody(JSON.stringify(dead))).toEqual({ kind: 'dead-letter', message: dead });
  });
});

describe('FailureBudget', () => {
  it('trips once more than the tolerated share of finished tasks failed; 100 never trips', () => {
    const b = new FailureBudget(10);
    for (let i = 0; i < 9; i++) b.record(true);
    b.record(false);
    expect(b.tripped).toBe(false); // 1 of 10 = 10%: not more than 10%
    b.record(false);
    expect(b.tripped).toBe(true); // 2 of 11
    const never = new FailureBudget(100);
    never.record(false);
    expect(never.tripped).toBe(false);
    const zero = new FailureBudget(0);
    zero.record(true);
    expect(zero.tripped).toBe(false);
    zero.record(false);
    expect(zero.tripped).toBe(true);
    expect(new FailureBudget(50, { finished: 4, failed: 3 }).tripped).toBe(true);
    expect(() => new FailureBudget(101)).toThrow(
      'Expected `toleratedFailurePercent` to be a number from 0 to 100, got 101',
    );
  });

  it('matches the exact ratio for any sequence', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.boolean(), { maxLength: 200 }),
        (pct, oks) => {
          const b = new FailureBudget(pct);
          let failed = 0;
          oks.forEach((ok, i) => {
            b.record(ok);
            if (!ok) failed++;
            expect(b.tripped).toBe(pct < 100 && failed / (i + 1) > pct / 100 + 1e-12);
          });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('retry keys', () => {
  it('stay one suffix long however many attempts: <key>#<attempt>, one key per message and attempt', () => {
    const failing: TaskOutcome = { id: 't0', ok: false, attempts: 1, status: 503, error: 'busy' };
    let message = { ...taskMessage(1), key: 'job:run:0', attempt: 1 };
    const keys = new Set<string>();
    for (let attempt = 1; attempt < 500; attempt++) {
      const [retry] = settleMessage(message, [failing], 10_000).retries;
      expect(retry.message).toMatchObject({ key: `job:run:0#${attempt + 1}`, attempt: attempt + 1 });
      keys.add(retry.message.key);
      message = retry.message;
    }
    expect(keys.size).toBe(499);
    // A hand-on's retry keeps the hand-on's mark: it is another message's.
    const handedOn = { ...taskMessage(1), key: 'job:run:0#3~1', attempt: 3 };
    expect(settleMessage(handedOn, [failing], 10).retries[0].message.key).toBe('job:run:0#3~1#4');
  });
});
