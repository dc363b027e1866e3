// settleMessage's less common outcomes: a missing outcome, a cancelled task, a failure with no error text,
// follow-ups too large for one message, and the hand-on key's counter.
import { describe, expect, it } from 'vitest';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../../lib/fanout/messages.js';
import { handOnKey, settleMessage } from '../../../lib/fanout/settle.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';

const message = (n: number, attempt = 1, body?: string): TaskMessage => ({
  v: MESSAGE_VERSION,
  kind: MessageKinds.TASKS,
  jobId: 'job',
  runId: 'run',
  key: 'job:run:7',
  attempt,
  retryDelaySeconds: 3,
  tasks: Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    url: `http://h/${i}`,
    mode: 'queue' as const,
    ...(body === undefined ? {} : { method: 'POST' as const, body }),
  })),
});

const failed = (id: string, over: Partial<TaskOutcome> = {}): TaskOutcome => ({
  id,
  ok: false,
  attempts: 1,
  ...over,
});

describe('settleMessage: uncommon outcomes', () => {
  it('a task with no outcome is a retryable failure: retried while attempts remain, then dead-lettered', () => {
    const early = settleMessage(message(3, 1), [{ id: 't0', ok: true, attempts: 1 }], 3);
    expect(early.retries.map((r) => r.message.tasks.map((t) => t.id))).toEqual([['t1', 't2']]);
    expect([early.succeeded, early.cancelled, early.deadLetters]).toEqual([1, 0, []]);
    const last = settleMessage(message(2, 3), [], 3);
    expect(last.retries).toEqual([]);
    expect(last.deadLetters.map((d) => [d.task.id, d.attempts, d.error, d.status])).toEqual([
      ['t0', 3, 'no outcome', undefined],
      ['t1', 3, 'no outcome', undefined],
    ]);
  });

  it('a task not started because its run ended is counted cancelled and goes nowhere', () => {
    const outcomes = [
      failed('t0', { attempts: 0, cancelled: true, error: 'BF_RUN_CANCELLED: x' }),
      failed('t1', { attempts: 0, cancelled: true, unstarted: true, retryable: true }),
      { id: 't2', ok: true, attempts: 1 },
    ];
    const s = settleMessage(message(3, 1), outcomes, 3);
    expect([s.succeeded, s.duplicates, s.cancelled]).toEqual([1, 0, 2]);
    expect([s.retries, s.handedOn, s.deadLetters]).toEqual([[], [], []]);
  });

  it('a failure with no error text is dead-lettered with its status as the error', () => {
    const s = settleMessage(message(1, 1), [failed('t0', { status: 404, retryable: false })], 3);
    expect(s.deadLetters.map((d) => [d.error, d.status])).toEqual([['status 404', 404]]);
  });

  it('follow-ups too large for one message are split, with keys .0, .1 after the derived key', () => {
    const body = 'x'.repeat(100 * 1024);
    const m = message(3, 2, body);
    const outcomes = m.tasks.map((t) => failed(t.id, { status: 503, retryable: true }));
    const s = settleMessage(m, outcomes, 5);
    expect(s.retries.map((r) => [r.message.key, r.message.attempt, r.delaySeconds])).toEqual([
      ['job:run:7#3.0', 3, 6],
      ['job:run:7#3.1', 3, 6],
    ]);
    expect(s.retries.map((r) => r.message.tasks.map((t) => t.id))).toEqual([['t0', 't1'], ['t2']]);
    const unstarted = m.tasks.map((t) => failed(t.id, { attempts: 0, unstarted: true }));
    expect(settleMessage(m, unstarted, 5).handedOn.map((h) => [h.message.key, h.delaySeconds])).toEqual([
      ['job:run:7~1.0', 0],
      ['job:run:7~1.1', 0],
    ]);
  });
});

describe('settleMessage: a wait asked with Retry-After', () => {
  const ids = (s: ReturnType<typeof settleMessage>) =>
    s.retries.map((r) => [r.message.key, r.delaySeconds, r.message.tasks.map((t) => t.id)]);

  it('delays the retry message to the longest wait its tasks were asked, in whole seconds, or the job’s backoff if longer', () => {
    // Attempt 2 of a job with retryDelaySeconds 3: its own backoff is 6 s.
    const m = message(4, 2);
    const outcomes = [
      failed('t0', { status: 429, retryAfterMs: 119_001 }),
      failed('t1', { status: 503, retryAfterMs: 2_000 }),
      failed('t2', { status: 503 }),
      { id: 't3', ok: true, attempts: 1 },
    ];
    const asked = settleMessage(m, outcomes, 5);
    expect(ids(asked)).toEqual([['job:run:7#3', 120, ['t0', 't1', 't2']]]);
    expect(asked.plan).toEqual({ v: 1, retry: [0, 1, 2], handOn: [], dead: [], retryAfterSeconds: 120 });
    const shorter = settleMessage(m, [failed('t0', { status: 429, retryAfterMs: 4_000 })], 5);
    expect(ids(shorter)).toEqual([['job:run:7#3', 6, ['t0', 't1', 't2', 't3']]]);
    // SQS's longest delay is still a retry.
    const longest = settleMessage(message(1, 1), [failed('t0', { status: 429, retryAfterMs: 900_000 })], 5);
    expect(ids(longest)).toEqual([['job:run:7#2', 900, ['t0']]]);
  });

  it('dead-letters a task asked to wait beyond SQS’s 900 s on the delivery it failed in; its neighbours go on', () => {
    const outcomes = [
      failed('t0', { status: 429, retryAfterMs: 900_001, error: 'BF_HTTP_STATUS: Unexpected status 429' }),
      failed('t1', { status: 503, retryAfterMs: 30_000 }),
    ];
    const s = settleMessage(message(2, 1), outcomes, 5);
    expect(ids(s)).toEqual([['job:run:7#2', 30, ['t1']]]);
    expect(s.deadLetters.map((d) => [d.task.id, d.attempts, d.status, d.error])).toEqual([
      [
        't0',
        1,
        429,
        "BF_HTTP_STATUS: Unexpected status 429 (not retried: its Retry-After of 901 s is beyond SQS's longest delay (900 s))",
      ],
    ]);
    // Out of attempts, a task is dead-lettered as before, whatever it was asked.
    const last = settleMessage(message(1, 5), [failed('t0', { status: 429, retryAfterMs: 1_000_000 })], 5);
    expect(last.deadLetters.map((d) => [d.attempts, d.error])).toEqual([[5, 'status 429']]);
  });
});

describe('handOnKey', () => {
  it('appends ~1, then counts up the trailing ~n only, past one digit', () => {
    expect(['k', 'k~1', 'k~9', 'k~10', 'k#2~41', 'a~1b', 'a~1~x', 'k~'].map(handOnKey)).toEqual([
      'k~1',
      'k~2',
      'k~10',
      'k~11',
      'k#2~42',
      'a~1b~1',
      'a~1~x~1',
      'k~~1',
    ]);
  });
});
