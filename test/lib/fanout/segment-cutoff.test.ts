import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';
import { parseTaskMessage, readDeadLetterBody } from '../../../lib/fanout/messages.js';
import type { Reread } from '../../../lib/fanout/reread.js';
import { CUT_OFF, runSegment, type SegmentLimits, type SendEntry } from '../../../lib/fanout/segment.js';
import { emptyCounts, type JobCounts } from '../../../lib/fanout/summary.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';
import { parseInlineManifest } from '../../../lib/manifest/index.js';
import { RUNS } from '../../helpers/runs.js';

// The segment's cutoff (lib/fanout/segment.ts `cutoff`): inline tasks still running when the
// invocation's deadline is close are aborted and dead-lettered with their error under CUT_OFF. The accounting
// rule, checked after every run of random jobs, cutoffs and segments: each task ends exactly once, succeeded
// inline, dead-lettered or enqueued; the counts and the failure budget say so; no cut-off task goes to the
// work queue (only one copy of a segment's settle counts, but a worker would count any copy's message). Ports
// are in-memory stand-ins (a FAKE, named so); the handlers' test against a real stalled host is
// test/functions/segment-cutoff.test.ts.

/** What an inline task does: answer 200, answer 404 (for good), or never answer (a GET, or a POST). */
type Kind = 'ok' | 'fail' | 'stall' | 'stall-post' | 'queue' | 'bad';

const limits: SegmentLimits = { inline: 3, enqueue: 2, invoke: 2, tasksPerMessage: 4, tasksPerInvoke: 3 };

class CutoffPorts {
  readonly ran = new Map<string, number>();
  readonly enqueued: string[] = [];
  readonly deadLettered: string[] = [];
  readonly deadErrors = new Map<string, string>();
  readonly keys = new Set<string>();
  readonly problems: string[] = [];
  constructor(readonly kinds: readonly Kind[]) {}

  runInline = async (task: { id: string }, cutoff?: AbortSignal): Promise<TaskOutcome> => {
    const { id } = task;
    // runHttpTask's rule: nothing is sent once the signal has fired.
    if (cutoff?.aborted)
      return { id, ok: false, attempts: 0, retryable: true, unstarted: true, error: 'aborted' };
    this.ran.set(id, (this.ran.get(id) ?? 0) + 1);
    const kind = this.kinds[Number(id.slice(1))];
    if (kind === 'stall' || kind === 'stall-post') {
      await new Promise((resolve) => cutoff?.addEventListener('abort', resolve, { once: true }));
      return {
        id,
        ok: false,
        attempts: 1,
        retryable: kind === 'stall',
        error: 'BF_ABORTED: Task was aborted',
      };
    }
    await sleep(Math.random() < 0.5 ? 1 : 0);
    return kind === 'fail'
      ? { id, ok: false, status: 404, attempts: 1, retryable: false, error: 'status 404' }
      : { id, ok: true, status: 200, attempts: 1 };
  };
  sendTasks = async (entries: readonly SendEntry[]) => {
    for (const entry of entries) {
      const parsed = parseTaskMessage(entry.MessageBody);
      if (!parsed.ok) this.problems.push(`unreadable ${entry.Id}`);
      else {
        if (this.keys.has(parsed.value.key)) this.problems.push(`key ${parsed.value.key} twice`);
        if (parsed.value.tasks.length > limits.tasksPerMessage) this.problems.push(`${entry.Id} too full`);
        this.keys.add(parsed.value.key);
        for (const t of parsed.value.tasks) this.enqueued.push(t.id);
      }
    }
    return [];
  };
  sendDeadLetters = async (entries: readonly SendEntry[]) => {
    for (const entry of entries) {
      const body = readDeadLetterBody(entry.MessageBody);
      if (body.kind !== 'dead-letter') this.problems.push(`dead letter ${entry.Id} is ${body.kind}`);
      else
        for (const t of body.message.tasks) {
          this.deadLettered.push(t.task.id);
          this.deadErrors.set(t.task.id, t.error);
        }
    }
    return [];
  };
  invoke = async () => [];
}

function jobOf(kinds: readonly Kind[]) {
  const task = (kind: Kind, i: number) => {
    if (kind === 'bad') return { id: `t${i}`, url: 'nope' };
    const base = { id: `t${i}`, url: `http://h/${i}` };
    if (kind === 'queue') return base;
    return kind === 'stall-post' ? { ...base, mode: 'inline', method: 'POST' } : { ...base, mode: 'inline' };
  };
  return { jobId: 'job', runId: 'run', tasks: kinds.map(task) };
}

/** Segment after segment, each cut off (and stopped reading) after `cutAfterMs[k]` ms, until the end. */
async function runAll(kinds: readonly Kind[], ports: CutoffPorts, cutAfterMs: readonly number[]) {
  let [cursor, seq] = [0, 0];
  let reread: Reread | undefined;
  let counts: JobCounts = emptyCounts();
  const budget = new FailureBudget(100);
  for (let segment = 0; ; segment++) {
    const cutoff = new AbortController();
    const timer = setTimeout(() => cutoff.abort(), cutAfterMs[segment] ?? 2);
    const result = await runSegment({
      jobId: 'job',
      runId: 'run',
      items: parseInlineManifest(jobOf(kinds)).items,
      startAt: cursor,
      ...(reread ? { reread } : {}),
      firstMessageSeq: seq,
      limits,
      budget,
      counts,
      // As in the orchestrator: reading has stopped by the time the cutoff fires.
      shouldStop: () => cutoff.signal.aborted,
      cutoff: cutoff.signal,
      ports,
    }).finally(() => clearTimeout(timer));
    [counts, seq] = [result.counts, result.nextMessageSeq];
    if (result.reason !== 'deadline') return { result, budget };
    [cursor, reread] = [result.cursor!, result.reread];
  }
}

describe('the inline cutoff', () => {
  it('every task ends exactly once: succeeded inline, dead-lettered or enqueued, counts exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Kind>('ok', 'fail', 'stall', 'stall-post', 'queue', 'bad'), {
          maxLength: 30,
        }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 12 }),
        async (kinds, cutAfterMs) => {
          const ports = new CutoffPorts(kinds);
          const { result, budget } = await runAll(kinds, ports, cutAfterMs);
          expect(result.reason).toBe('complete');
          expect(ports.problems).toEqual([]);
          const ids = (want: (k: Kind) => boolean) => kinds.flatMap((k, i) => (want(k) ? [`t${i}`] : []));
          const ended = [...ports.enqueued, ...ports.deadLettered].sort();
          const c = result.counts;
          // Every valid task once: the ones not enqueued or dead-lettered succeeded inline.
          expect(new Set(ended).size).toBe(ended.length);
          expect(ended.length + c.inlineSucceeded).toBe(ids((k) => k !== 'bad').length);
          // Only queue-mode tasks are enqueued; a stalled task is dead-lettered under CUT_OFF, as is any task
          // the cutoff found unstarted; a task that failed before the cutoff keeps its own error.
          expect(ports.enqueued.sort()).toEqual(ids((k) => k === 'queue').sort());
          for (const id of ids((k) => k === 'stall' || k === 'stall-post')) {
            expect(ports.deadErrors.get(id)).toMatch(new RegExp(`^${CUT_OFF}: `));
          }
          // A 404 keeps its own error, even when it landed after the cutoff fired; one never sent is the cutoff's.
          for (const id of ids((k) => k === 'fail')) {
            const error = ports.deadErrors.get(id);
            if (ports.ran.get(id) === 1) expect(error).toBe('status 404');
            else expect(error).toMatch(new RegExp(`^${CUT_OFF}: `));
          }
          for (const n of ports.ran.values()) expect(n).toBe(1);
          expect(c.read).toBe(kinds.length);
          expect(c.invalid).toBe(ids((k) => k === 'bad').length);
          expect(c.enqueued).toBe(ports.enqueued.length);
          expect(c.deadLettered).toBe(ports.deadLettered.length);
          expect(c.inlineSucceeded + c.inlineFailed + c.enqueued + c.invalid).toBe(c.read);
          expect(c.inlineFailed).toBe(c.deadLettered);
          expect(budget.counts).toEqual({
            finished: c.inlineSucceeded + c.inlineFailed,
            failed: c.inlineFailed,
          });
        },
      ),
      { numRuns: Math.min(RUNS, 300) },
    );
  });
});
