import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { segmentDelta } from '../../../functions/orchestrator-ledger.js';
import { classifyEvent } from '../../../lib/fanout/continuation.js';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';
import { parseTaskMessage } from '../../../lib/fanout/messages.js';
import { handBack, handledBefore, type Reread } from '../../../lib/fanout/reread.js';
import { runSegment, type SegmentPorts, type SendEntry } from '../../../lib/fanout/segment.js';
import { emptyCounts, type JobCounts } from '../../../lib/fanout/summary.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';
import type { CountDelta } from '../../../lib/ledger/run-record.js';
import { type ManifestItem, parseInlineManifest } from '../../../lib/manifest/index.js';
import { RUNS } from '../../helpers/runs.js';

// A retried orchestrator segment (lib/fanout/reread.ts, functions/orchestrator.ts): its copies stop at
// different places, only the first settle of `segment:<n>` counts and every copy continues from the end it
// kept. The world here is a FAKE of the parts that decide the counts: the worker runs a message key once
// (its idempotency), replays an invoke key's first answer, and the ledger settles a key once.

type Mode = 'inline' | 'queue' | 'invoke' | 'bad';

const limits = { inline: 2, enqueue: 2, invoke: 2, tasksPerMessage: 3, tasksPerInvoke: 2 };

interface End {
  readonly cursor?: number;
  readonly reread?: Reread;
  readonly nextMessageSeq: number;
  readonly counts: JobCounts;
}

class World {
  /** Times each task reached its host. */
  readonly runs = new Map<string, number>();
  /** Task ids each message key ran, as first delivered (a key's later deliveries are duplicates). */
  readonly messages = new Map<string, string[]>();
  readonly #invokes = new Map<string, TaskOutcome[]>();
  readonly #settled = new Map<string, End | undefined>();
  readonly totals = { submitted: 0, succeeded: 0, deadLettered: 0, invalid: 0, cancelled: 0 };

  constructor(readonly fails: ReadonlySet<string>) {}

  #run(id: string): TaskOutcome {
    this.runs.set(id, (this.runs.get(id) ?? 0) + 1);
    return this.fails.has(id) ? { id, ok: false, attempts: 1, error: 'boom' } : { id, ok: true, attempts: 1 };
  }

  /** The ledger: a key settles once, keeping its end. */
  settle(key: string, delta: CountDelta, end?: End): boolean {
    if (this.#settled.has(key)) return false;
    this.#settled.set(key, end);
    for (const name of Object.keys(this.totals) as (keyof World['totals'])[])
      this.totals[name] += delta[name] ?? 0;
    return true;
  }

  settledEnd(key: string): End | undefined {
    return this.#settled.get(key);
  }

  ports(): SegmentPorts {
    const pause = () => sleep(Math.random() < 0.5 ? 1 : 0);
    return {
      runInline: async (task) => {
        await pause();
        return this.#run(task.id);
      },
      sendTasks: async (entries: readonly SendEntry[]) => {
        await pause();
        for (const entry of entries) {
          const parsed = parseTaskMessage(entry.MessageBody);
          if (!parsed.ok) throw new Error(parsed.error);
          const { key, tasks } = parsed.value;
          // The worker: a key it ran already is a duplicate, its tasks are not run again.
          if (this.messages.has(key)) continue;
          this.messages.set(
            key,
            tasks.map((t) => t.id),
          );
          const outcomes = tasks.map((t) => this.#run(t.id));
          const ok = outcomes.filter((o) => o.ok).length;
          this.settle(key, { succeeded: ok, deadLettered: outcomes.length - ok });
        }
        return [];
      },
      sendDeadLetters: async () => [],
      invoke: async (message) => {
        await pause();
        // The worker's idempotency answers a key it ran with that run's outcomes.
        const known = this.#invokes.get(message.key);
        if (known) return known;
        const outcomes = message.tasks.map((t) => this.#run(t.id));
        this.#invokes.set(message.key, outcomes);
        return outcomes;
      },
    };
  }
}

function manifestOf(modes: readonly Mode[]) {
  return {
    jobId: 'job',
    runId: 'run',
    tasks: modes.map((mode, i) =>
      mode === 'bad' ? { id: `t${i}`, url: 'nope' } : { id: `t${i}`, url: `http://h/${i}`, mode },
    ),
  };
}

/** One copy of a segment: how many deadline checks it passes before it stops, and whether it dies unsettled. */
const copyArb = fc.record({ stopAfter: fc.integer({ min: 0, max: 12 }), dies: fc.boolean() });

/**
 * Runs the job segment after segment; each segment's copies run at once, then settle in `order` (a copy that
 * dies does not, unless it is the only one left), and the job goes on from the end the first settle kept.
 */
async function runJob(
  modes: readonly Mode[],
  plan: readonly { copies: { stopAfter: number; dies: boolean }[]; order: number[] }[],
  world: World,
): Promise<number> {
  const manifest = manifestOf(modes);
  let at: End = { cursor: 0, nextMessageSeq: 0, counts: emptyCounts() };
  for (let n = 0; n < 200; n++) {
    const step = plan[n];
    // Past the plan, a segment reads to the end: the job always ends.
    const copies = step?.copies.length ? step.copies : [{ stopAfter: Number.POSITIVE_INFINITY, dies: false }];
    const start = at;
    const ends = await Promise.all(
      copies.map(async ({ stopAfter }) => {
        let checks = 0;
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
          shouldStop: () => ++checks > stopAfter,
          ports: world.ports(),
        });
        const continues = out.reason === 'deadline';
        const end: End = {
          ...(continues ? { cursor: out.cursor } : {}),
          ...(continues && out.reread ? { reread: out.reread } : {}),
          nextMessageSeq: out.nextMessageSeq,
          counts: out.counts,
        };
        return { end, delta: segmentDelta(start.counts, out.counts) };
      }),
    );
    const order = [...new Set([...(step?.order ?? []), ...copies.keys()])].filter((i) => i < copies.length);
    const survivor = order.findLast(() => true) ?? 0;
    for (const i of order) {
      if (copies[i].dies && i !== survivor) continue;
      world.settle(`segment:${n}`, ends[i].delta, ends[i].end);
    }
    const kept = world.settledEnd(`segment:${n}`);
    if (!kept) throw new Error(`segment ${n} settled without its end`);
    if (kept.cursor === undefined) return n + 1;
    at = kept;
  }
  throw new Error('the job did not end in 200 segments');
}

describe('a retried segment (reread)', () => {
  it('property: copies stopping anywhere, settling in any order: exact counts, every queued task run by one message', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Mode>('inline', 'queue', 'queue', 'invoke', 'bad'), { maxLength: 30 }),
        fc.array(
          fc.record({
            copies: fc.array(copyArb, { minLength: 1, maxLength: 3 }),
            order: fc.array(fc.nat({ max: 2 }), { maxLength: 3 }),
          }),
          { maxLength: 8 },
        ),
        fc.func(fc.boolean()),
        async (modes, plan, failOf) => {
          const ids = modes.map((_, i) => `t${i}`);
          const world = new World(new Set(ids.filter((id) => failOf(id) === true)));
          await runJob(modes, plan, world);
          const valid = ids.filter((_, i) => modes[i] !== 'bad');
          const { totals } = world;
          expect(totals.submitted).toBe(modes.length);
          expect(totals.invalid).toBe(modes.length - valid.length);
          expect(totals.succeeded + totals.deadLettered + totals.invalid + totals.cancelled).toBe(
            totals.submitted,
          );
          const failed = valid.filter((id) => world.fails.has(id)).length;
          expect([totals.succeeded, totals.deadLettered]).toEqual([valid.length - failed, failed]);
          // Each queued task is in exactly one message the worker ran; every valid task ran.
          const inMessages = [...world.messages.values()].flat();
          const queued = ids.filter((_, i) => modes[i] === 'queue');
          expect(inMessages.sort()).toEqual(queued.sort());
          expect(valid.filter((id) => (world.runs.get(id) ?? 0) < 1)).toEqual([]);
        },
      ),
      { numRuns: Math.min(RUNS, 300) },
    );
  });

  it('a continuation carries its reread part; one with a threshold past `to` is refused, naming it', () => {
    const counts = { ...emptyCounts(), cancelled: 0 };
    const continuation = {
      v: 1,
      jobId: 'j',
      runId: 'r',
      source: { kind: 'inline', job: {} },
      cursor: 3,
      nextMessageSeq: 2,
      segment: 1,
      startedAt: 1,
      counts,
      peaks: { inline: 0, enqueue: 0, invoke: 0 },
      budget: { finished: 0, failed: 0 },
    };
    const reread = { to: 5, queueFrom: 3, invokeFrom: 5 };
    expect(classifyEvent({ continuation: { ...continuation, reread } })).toMatchObject({
      kind: 'continuation',
      continuation: { cursor: 3, reread },
    });
    expect(() =>
      classifyEvent({ continuation: { ...continuation, reread: { ...reread, queueFrom: 7 } } }),
    ).toThrow('continuation.reread: an object with queueFrom or invokeFrom past `to`');
  });

  it('hands back the part-filled message and chunk: the next segment starts from the first of them', () => {
    // Stopped at 10 with queue tasks from 6 and invoke tasks from 8 still packed: the cursor is 6, and up to 10
    // only those are started again.
    expect(handBack(10, 6, 8, undefined)).toEqual({
      cursor: 6,
      reread: { to: 10, queueFrom: 6, invokeFrom: 8 },
    });
    expect(handBack(10, undefined, undefined, undefined)).toEqual({ cursor: 10 });
    // A stop for good inside the reread part it started with keeps the tasks there it had not reached.
    expect(handBack(7, undefined, undefined, { to: 10, queueFrom: 6, invokeFrom: 9 })).toEqual({
      cursor: 7,
      reread: { to: 10, queueFrom: 7, invokeFrom: 9 },
    });
    const item = (index: number, mode?: 'inline' | 'queue' | 'invoke') =>
      (mode
        ? { ok: true, index, task: { id: `t${index}`, url: 'http://h/', mode } }
        : { ok: false, index, error: 'bad' }) as unknown as ManifestItem;
    const reread = { to: 10, queueFrom: 6, invokeFrom: 8 };
    expect(handledBefore(item(5, 'queue'), 6, reread)).toBe(true);
    expect(handledBefore(item(6, 'inline'), 6, reread)).toBe(true);
    expect(handledBefore(item(7), 6, reread)).toBe(true);
    expect(handledBefore(item(6, 'queue'), 6, reread)).toBe(false);
    expect(handledBefore(item(7, 'invoke'), 6, reread)).toBe(true);
    expect(handledBefore(item(8, 'invoke'), 6, reread)).toBe(false);
    expect(handledBefore(item(10, 'inline'), 6, reread)).toBe(false);
  });
});
