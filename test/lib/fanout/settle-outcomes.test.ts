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
