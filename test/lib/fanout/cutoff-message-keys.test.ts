import { describe, expect, it } from 'vitest';
import { segmentDelta } from '../../../functions/orchestrator-ledger.js';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';
import { parseTaskMessage } from '../../../lib/fanout/messages.js';
import type { Reread } from '../../../lib/fanout/reread.js';
import { runSegment, type SegmentPorts, type SendEntry } from '../../../lib/fanout/segment.js';
import { emptyCounts, type JobCounts } from '../../../lib/fanout/summary.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';
import type { CountDelta } from '../../../lib/ledger/run-record.js';
import { parseInlineManifest } from '../../../lib/manifest/index.js';

// Regression test. DEFECT of 984c85c (fails there: key job:run:1 sent as [t0] and as [t4,t5,t6], t4..t6 never
// run, 5 of 7 succeeded), fixed by 1941c71 (cut-off inline tasks are dead-lettered, no message sent).
// The inline cutoff's messages (lib/fanout/segment.ts #handOn, commit 984c85c) took their keys from the
// segment's message sequence (`<jobId>:<runId>:<seq>`), numbered after whatever that copy of the segment
// happened to send. docs/ledger.md ("A segment run twice") promises that every message of a run "is one of
// the same sequence whichever copy sent it, and its key (from its sequence number) holds the same tasks: the
// worker runs a key once, and the ledger settles it once". A cut-off message breaks that: whether a copy cuts
// an inline task off depends on the host's timing, so a copy that cut one off (and then died before its
// segment settle: Lambda retries the invocation) has sent key N with the inline task, while the retried copy,
// whose inline task answered, keeps N as its next message number; the next segment's first message is sent
// under the same key N with other tasks. The worker runs key N once and the ledger settles it once, so those
// tasks never run and are never counted (here: 3 lost, the inline task counted twice).
//
// The world is a FAKE of the parts that decide the counts, as in test/lib/fanout/reread.test.ts: the worker
// runs a message key once (its idempotency), the ledger settles a key once.

const limits = { inline: 2, enqueue: 2, invoke: 2, tasksPerMessage: 3, tasksPerInvoke: 3 };

interface End {
  readonly cursor?: number;
  readonly reread?: Reread;
  readonly nextMessageSeq: number;
  readonly counts: JobCounts;
}

class World {
  /** Times each task reached its host. */
  readonly runs = new Map<string, number>();
  /** Task ids of every message sent, by key, per send (a key sent twice with other tasks is the defect). */
  readonly sent = new Map<string, string[][]>();
  /** Task ids each message key ran, as first delivered. */
  readonly ran = new Map<string, string[]>();
  readonly #settled = new Set<string>();
  readonly totals = { submitted: 0, succeeded: 0, deadLettered: 0, invalid: 0, cancelled: 0 };

  run(id: string): TaskOutcome {
    this.runs.set(id, (this.runs.get(id) ?? 0) + 1);
    return { id, ok: true, status: 200, attempts: 1 };
  }

  settle(key: string, delta: CountDelta): void {
    if (this.#settled.has(key)) return;
    this.#settled.add(key);
    for (const name of Object.keys(this.totals) as (keyof World['totals'])[])
      this.totals[name] += delta[name] ?? 0;
  }

  /** The ports of one copy: `stalls` says which inline task ids never answer in this copy (until the cutoff). */
  ports(stalls: ReadonlySet<string>): SegmentPorts {
    return {
      runInline: async (task, cutoff) => {
        const { id } = task;
        if (cutoff?.aborted)
          return { id, ok: false, attempts: 0, retryable: true, unstarted: true, error: 'aborted' };
        if (stalls.has(id)) {
          // The host never answers: the request is still in flight when the cutoff aborts it (a GET: repeatable).
          this.runs.set(id, (this.runs.get(id) ?? 0) + 1);
          await new Promise((resolve) => cutoff?.addEventListener('abort', resolve, { once: true }));
          return { id, ok: false, status: 0, attempts: 1, retryable: true, error: 'AbortError: aborted' };
        }
        return this.run(id);
      },
      sendTasks: async (entries: readonly SendEntry[]) => {
        for (const entry of entries) {
          const parsed = parseTaskMessage(entry.MessageBody);
          if (!parsed.ok) throw new Error(parsed.error);
          const { key, tasks } = parsed.value;
          const ids = tasks.map((t) => t.id);
          this.sent.set(key, [...(this.sent.get(key) ?? []), ids]);
          // The worker: a key it ran already is a duplicate, its tasks are not run again.
          if (this.ran.has(key)) continue;
          this.ran.set(key, ids);
          const outcomes = tasks.map((t) => this.run(t.id));
          this.settle(key, { succeeded: outcomes.filter((o) => o.ok).length });
        }
        return [];
      },
      sendDeadLetters: async () => [],
      invoke: async () => [],
    };
  }
}

// t0 inline, t1..t6 queued. Segment 0 stops reading at t4 (its deadline); segment 1 reads the rest.
const manifest = {
  jobId: 'job',
  runId: 'run',
  tasks: [
    { id: 't0', url: 'http://h/0', mode: 'inline' },
    ...[1, 2, 3, 4, 5, 6].map((i) => ({ id: `t${i}`, url: `http://h/${i}` })),
  ],
};

/** One copy of a segment from `start`: reading stops after `stopAfter` deadline checks, the cutoff just after. */
async function copyOf(world: World, start: End, stopAfter: number, stalls: ReadonlySet<string>) {
  const cutoff = new AbortController();
  let checks = 0;
  const shouldStop = () => {
    const stop = ++checks > stopAfter;
    // As in the orchestrator: reading stops at deadlineMarginMs left, the cutoff fires at half of it.
    if (stop && !cutoff.signal.aborted) setTimeout(() => cutoff.abort(), 5);
    return stop;
  };
  const out = await runSegment({
    jobId: 'job',
    runId: 'run',
    items: parseInlineManifest(manifest).items,
    startAt: start.cursor ?? 0,
    ...(start.reread ? { reread: start.reread } : {}),
    firstMessageSeq: start.nextMessageSeq,
    limits,
    budget: new FailureBudget(100),
    counts: start.counts,
    shouldStop,
    cutoff: cutoff.signal,
    ports: world.ports(stalls),
  });
  cutoff.abort();
  const continues = out.reason === 'deadline';
  const end: End = {
    ...(continues ? { cursor: out.cursor } : {}),
    ...(continues && out.reread ? { reread: out.reread } : {}),
    nextMessageSeq: out.nextMessageSeq,
    counts: out.counts,
  };
  return { end, delta: segmentDelta(start.counts, out.counts) };
}

describe('cut-off messages of a retried segment', () => {
  it('a key holds the same tasks whichever copy sent it; no queued task is lost to a cut-off message’s key', async () => {
    const world = new World();
    const start: End = { cursor: 0, nextMessageSeq: 0, counts: emptyCounts() };
    // Segment 0, first copy: t0's host stalls, so the cutoff hands t0 on in a message of its own; the copy
    // then dies before its segment settle (killed, or its settle threw), and Lambda retries the invocation.
    // t0 takes two checks (read, then its inline slot), t1..t3 one each: reading stops at t4.
    await copyOf(world, start, 5, new Set(['t0']));
    // Segment 0, the retry: t0 answers this time; this copy settles segment 0, and the job goes on from its end.
    const retry = await copyOf(world, start, 5, new Set());
    world.settle('segment:0', retry.delta);
    expect(retry.end.cursor).toBe(4);
    // Segment 1 reads to the end.
    const last = await copyOf(world, retry.end, Number.POSITIVE_INFINITY, new Set());
    world.settle('segment:1', last.delta);
    expect(last.end.cursor).toBeUndefined();

    // Every key was sent with one set of tasks, whichever copy or segment sent it.
    const conflicting = [...world.sent].filter(
      ([, sends]) => new Set(sends.map((ids) => ids.join(','))).size > 1,
    );
    expect.soft(conflicting).toEqual([]);
    // Every queued task ran (in the message the worker ran for its key), and the counts are exact.
    const queued = ['t1', 't2', 't3', 't4', 't5', 't6'];
    expect.soft(queued.filter((id) => (world.runs.get(id) ?? 0) < 1)).toEqual([]);
    expect
      .soft(world.totals)
      .toEqual({ submitted: 7, succeeded: 7, deadLettered: 0, invalid: 0, cancelled: 0 });
  });
});
