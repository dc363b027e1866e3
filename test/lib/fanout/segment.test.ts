import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';
import { parseTaskMessage, readDeadLetterBody, redriveMessage } from '../../../lib/fanout/messages.js';
import type { Reread } from '../../../lib/fanout/reread.js';
import {
  runSegment,
  type SegmentLimits,
  type SegmentPorts,
  type SendEntry,
} from '../../../lib/fanout/segment.js';
import { emptyCounts, type JobCounts } from '../../../lib/fanout/summary.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';
import { ManifestError, parseInlineManifest } from '../../../lib/manifest/index.js';
import { SQS_MAX_BATCH_BYTES, SQS_MAX_BATCH_ENTRIES } from '../../../lib/wire/sqs-limits.js';
import { RUNS } from '../../helpers/runs.js';

// runSegment is the AWS-free core of the orchestrator. Its ports are in-memory stand-ins for SQS and
// Lambda here (a FAKE, named so); test/functions runs the same core against the real emulators.

type Mode = 'inline' | 'queue' | 'invoke';

/** Broken SQS limits, resent keys and unreadable messages the fake ports saw, checked after every test. */
const violations: string[] = [];
afterEach(() => {
  expect(violations.splice(0)).toEqual([]);
});

class FakePorts implements SegmentPorts {
  readonly started = new Map<string, number>();
  readonly keys = new Set<string>();
  readonly deadLettered: string[] = [];
  /** Dead-letter records as `id:attempts`. */
  readonly deadAttempts: string[] = [];
  /** Invoke-mode tasks the worker answers as not started (its deadline came first). */
  unstarted: ReadonlySet<string> = new Set();
  /** Invoke-mode tasks the worker answers as not started because their run is paused. */
  paused: ReadonlySet<string> = new Set();
  inFlight = { inline: 0, send: 0, invoke: 0 };
  peak = { inline: 0, send: 0, invoke: 0 };
  constructor(
    readonly fails: ReadonlySet<string>,
    readonly sendFailsEvery = 0,
  ) {}
  #sends = 0;

  #start(id: string) {
    this.started.set(id, (this.started.get(id) ?? 0) + 1);
  }
  async #hold<T>(lane: 'inline' | 'send' | 'invoke', fn: () => T): Promise<T> {
    this.inFlight[lane]++;
    this.peak[lane] = Math.max(this.peak[lane], this.inFlight[lane]);
    await sleep(lane === 'send' || Math.random() < 0.5 ? 1 : 0);
    this.inFlight[lane]--;
    return fn();
  }
  runInline = (task: { id: string }) =>
    this.#hold('inline', (): TaskOutcome => {
      this.#start(task.id);
      return this.fails.has(task.id)
        ? { id: task.id, ok: false, status: 500, attempts: 1, error: 'boom' }
        : { id: task.id, ok: true, status: 200, attempts: 1 };
    });
  sendTasks = (entries: readonly SendEntry[]) =>
    this.#hold('send', () => {
      // Recorded, not asserted or thrown here: a throw inside a port is a failed send to the segment, which
      // would dead-letter the tasks and hide the broken limit or message. afterEach asserts there were none.
      if (entries.length > SQS_MAX_BATCH_ENTRIES) violations.push(`${entries.length} entries in one batch`);
      const bytes = entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody), 0);
      if (bytes > SQS_MAX_BATCH_BYTES) violations.push(`${bytes} bytes in one batch`);
      const failures = [];
      for (const entry of entries) {
        if (this.sendFailsEvery && ++this.#sends % this.sendFailsEvery === 0) {
          failures.push({ id: entry.Id, error: 'InternalError' });
          continue;
        }
        const parsed = parseTaskMessage(entry.MessageBody);
        if (!parsed.ok) {
          violations.push(`task message ${entry.Id} unreadable: ${parsed.error}`);
          continue;
        }
        if (this.keys.has(parsed.value.key)) violations.push(`message key ${parsed.value.key} sent twice`);
        this.keys.add(parsed.value.key);
        for (const t of parsed.value.tasks) this.#start(t.id);
      }
      return failures;
    });
  sendDeadLetters = (entries: readonly SendEntry[]) =>
    this.#hold('send', () => {
      for (const entry of entries) {
        // Recorded, as in sendTasks: a throw here would be one more failed send to the segment.
        const body = readDeadLetterBody(entry.MessageBody);
        if (body.kind !== 'dead-letter') {
          violations.push(`dead letter ${entry.Id} is ${body.kind}`);
          continue;
        }
        // The worker must be able to run it again once redriven (parseWorkBody does the same).
        const again = parseTaskMessage(redriveMessage(body.message, entry.Id));
        if (!again.ok) violations.push(`dead letter ${entry.Id} cannot be redriven: ${again.error}`);
        for (const t of body.message.tasks) {
          if (!Number.isInteger(t.attempts) || typeof t.error !== 'string')
            violations.push(`dead letter ${entry.Id}: task ${t.task.id} without attempts or error`);
          this.deadLettered.push(t.task.id);
          this.deadAttempts.push(`${t.task.id}:${t.attempts}`);
        }
      }
      return [];
    });
  invoke = (message: { tasks: readonly { id: string }[] }) =>
    this.#hold('invoke', () =>
      message.tasks.map((t): TaskOutcome => {
        if (this.unstarted.has(t.id)) {
          return { id: t.id, ok: false, attempts: 0, retryable: true, unstarted: true, error: 'BF_DEADLINE' };
        }
        if (this.paused.has(t.id)) {
          return {
            id: t.id,
            ok: false,
            attempts: 0,
            retryable: true,
            unstarted: true,
            paused: true,
            error: 'p',
          };
        }
        this.#start(t.id);
        return this.fails.has(t.id)
          ? { id: t.id, ok: false, attempts: 1, error: 'boom' }
          : { id: t.id, ok: true, attempts: 1 };
      }),
    );
}

const limits: SegmentLimits = { inline: 3, enqueue: 2, invoke: 2, tasksPerMessage: 4, tasksPerInvoke: 3 };

function jobOf(modes: readonly (Mode | 'bad')[]) {
  return {
    jobId: 'job',
    runId: 'run',
    tasks: modes.map((mode, i) =>
      mode === 'bad' ? { id: `t${i}`, url: 'nope' } : { id: `t${i}`, url: `http://h/${i}`, mode },
    ),
  };
}

/** Runs a job segment after segment, each stopping after `stopAfter[k]` deadline checks, until it ends. */
async function runAll(
  job: ReturnType<typeof jobOf>,
  ports: FakePorts,
  stopAfter: readonly number[],
  tolerated = 100,
  breakAt?: number,
) {
  let cursor = 0;
  let reread: Reread | undefined;
  let seq = 0;
  let counts: JobCounts = emptyCounts();
  let budgetCounts = { finished: 0, failed: 0 };
  for (let segment = 0; ; segment++) {
    let checks = 0;
    const budget = new FailureBudget(tolerated, budgetCounts);
    const result = await runSegment({
      jobId: 'job',
      runId: 'run',
      items: breakAt === undefined ? parseInlineManifest(job).items : breaking(job, breakAt),
      startAt: cursor,
      ...(reread ? { reread } : {}),
      firstMessageSeq: seq,
      limits,
      budget,
      counts,
      shouldStop: () => ++checks > (stopAfter[segment] ?? Number.POSITIVE_INFINITY),
      ports,
    });
    expect(result.peaks.inline).toBeLessThanOrEqual(limits.inline);
    expect(result.peaks.enqueue).toBeLessThanOrEqual(limits.enqueue);
    expect(result.peaks.invoke).toBeLessThanOrEqual(limits.invoke);
    counts = result.counts;
    budgetCounts = budget.counts;
    seq = result.nextMessageSeq;
    if (result.reason !== 'deadline') return { result, segments: segment + 1 };
    expect(result.cursor).toBeGreaterThanOrEqual(cursor);
    cursor = result.cursor!;
    reread = result.reread;
  }
}

/** The job's items up to `at`, then the manifest's fault, as a stream that breaks after `tasks` throws it. */
async function* breaking(job: ReturnType<typeof jobOf>, at: number) {
  for await (const item of parseInlineManifest(job).items) {
    if (item.index === at) throw ManifestError.of('tasks', 'appears twice');
    yield item;
  }
  throw ManifestError.of('tasks', 'appears twice');
}

describe('runSegment', () => {
  it('a manifest that breaks mid-read: every task before the fault runs once, none after, the job says why', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Mode | 'bad'>('inline', 'queue', 'invoke', 'bad'), { maxLength: 30 }),
        fc.nat({ max: 35 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 4 }),
        async (modes, at, stopAfter) => {
          const ports = new FakePorts(new Set());
          const { result } = await runAll(jobOf(modes), ports, stopAfter, 100, at);
          expect(result.reason).toBe('manifest-error');
          expect(result.error).toBe('tasks: appears twice');
          expect(result.cursor).toBeUndefined();
          const before = modes.slice(0, at);
          const valid = before.flatMap((m, i) => (m === 'bad' ? [] : [`t${i}`]));
          expect([...ports.started.keys()].sort()).toEqual(valid.sort());
          for (const n of ports.started.values()) expect(n).toBe(1);
          const c = result.counts;
          expect(c.read).toBe(before.length);
          expect(c.invalid).toBe(before.length - valid.length);
          expect(c.inlineSucceeded + c.enqueued + c.invokeSucceeded).toBe(valid.length);
        },
      ),
      { numRuns: Math.min(RUNS, 200) },
    );
  });

  it('starts every task exactly once across any number of deadline continuations, and accounts for all', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Mode | 'bad'>('inline', 'queue', 'invoke', 'bad'), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 6 }),
        fc.func(fc.boolean()),
        fc.func(fc.boolean()),
        async (modes, stopAfter, failOf, pausedOf) => {
          const job = jobOf(modes);
          const fails = new Set(modes.map((_, i) => `t${i}`).filter((id) => failOf(id) === true));
          const ports = new FakePorts(fails);
          // Invoke tasks a paused run leaves unstarted: started once all the same, by their message.
          const paused = new Set(modes.map((_, i) => `t${i}`).filter((id) => pausedOf(id) === true));
          ports.paused = paused;
          const { result } = await runAll(job, ports, stopAfter);
          expect(result.reason).toBe('complete');
          const valid = modes.flatMap((m, i) => (m === 'bad' ? [] : [`t${i}`]));
          expect([...ports.started.keys()].sort()).toEqual([...valid].sort());
          for (const n of ports.started.values()) expect(n).toBe(1);
          const c = result.counts;
          expect(c.read).toBe(modes.length);
          expect(c.invalid).toBe(modes.length - valid.length);
          expect(
            c.inlineSucceeded + c.inlineFailed + c.enqueued + c.invokeSucceeded + c.invokeFailed + c.invalid,
          ).toBe(c.read);
          const failedRun = modes.flatMap((m, i) =>
            m !== 'bad' && m !== 'queue' && fails.has(`t${i}`) && !(m === 'invoke' && paused.has(`t${i}`))
              ? [`t${i}`]
              : [],
          );
          expect(ports.deadLettered.sort()).toEqual(failedRun.sort());
          expect(c.deadLettered).toBe(failedRun.length);
          expect(c.undeliverable).toBe(0);
          expect(ports.peak.inline).toBeLessThanOrEqual(limits.inline);
          expect(ports.peak.invoke).toBeLessThanOrEqual(limits.invoke);
        },
      ),
      { numRuns: Math.min(RUNS, 300) },
    );
  });

  it('follows a live inline cap: lowered mid-run, every task started after it runs alone; raised, never above the limit', async () => {
    // The cap reads the tasks started so far: 1 from the 20th (a run's override lowered), 50 from the 40th
    // (raised past the segment's limit of 3). A task's in-flight count is taken as it starts.
    const ports = new FakePorts(new Set());
    const run = ports.runInline;
    const inFlightAtStart: number[] = [];
    ports.runInline = (task) => {
      inFlightAtStart.push(ports.inFlight.inline + 1);
      return run(task);
    };
    const capAt = () => (inFlightAtStart.length >= 40 ? 50 : inFlightAtStart.length >= 20 ? 1 : undefined);
    const caps: (number | undefined)[] = [];
    const result = await runSegment({
      jobId: 'job',
      runId: 'run',
      items: parseInlineManifest(jobOf(Array(60).fill('inline'))).items,
      startAt: 0,
      firstMessageSeq: 0,
      limits,
      budget: new FailureBudget(100),
      counts: emptyCounts(),
      shouldStop: () => false,
      inlineCap: () => {
        caps.push(capAt());
        return caps.at(-1);
      },
      ports,
    });
    expect(result.counts).toMatchObject({ read: 60, inlineSucceeded: 60 });
    expect([...ports.started.values()].every((n) => n === 1)).toBe(true);
    expect(ports.started.size).toBe(60);
    // Before the cap: the limit reached; under it (tasks 21 to 40, the 20th's own start was decided before):
    // alone; raised past the limit: the limit again, never above it.
    expect(Math.max(...inFlightAtStart.slice(0, 20))).toBe(limits.inline);
    expect(inFlightAtStart.slice(20, 40)).toEqual(Array(20).fill(1));
    expect(Math.max(...inFlightAtStart.slice(40))).toBe(limits.inline);
    expect(result.peaks.inline).toBe(limits.inline);
    expect(caps).toContain(1);
  });

  it('reaches its limits on a large job and never goes above them', async () => {
    const modes: Mode[] = Array.from(
      { length: 600 },
      (_, i) => (['inline', 'queue', 'invoke'] as const)[i % 3],
    );
    const ports = new FakePorts(new Set());
    const { result } = await runAll(jobOf(modes), ports, []);
    expect(result.peaks.inline).toBe(limits.inline);
    expect(result.peaks.invoke).toBe(limits.invoke);
    expect(result.peaks.enqueue).toBeLessThanOrEqual(limits.enqueue);
    expect(result.counts).toMatchObject({
      read: 600,
      inlineSucceeded: 200,
      enqueued: 200,
      messages: 50,
      invokeSucceeded: 200,
      invokeCalls: 67,
    });
    // Queue work alone keeps the enqueue lane full.
    const queued = await runAll(
      jobOf(Array.from({ length: 800 }, () => 'queue' as const)),
      new FakePorts(new Set()),
      [],
    );
    expect(queued.result.peaks.enqueue).toBe(limits.enqueue);
    expect(queued.result.counts).toMatchObject({ enqueued: 800, messages: 200, batches: 20 });
  });

  it('dead-letters the tasks of entries SQS kept refusing, so nothing is dropped', async () => {
    const modes: Mode[] = Array.from({ length: 80 }, () => 'queue');
    const ports = new FakePorts(new Set(), 3);
    const { result } = await runAll(jobOf(modes), ports, []);
    const c = result.counts;
    // 20 messages of 4 tasks; every third entry sent fails for good (6 of 20, whatever the order of the
    // sends): their 24 tasks are dead-lettered, the other 56 enqueued.
    expect([c.enqueued, c.deadLettered, c.messages]).toEqual([56, 24, 14]);
    expect(ports.deadLettered.length).toBe(24);
    expect(ports.started.size).toBe(56);
  });

  it('invoke mode: a task the worker had no time to start is dead-lettered with 0 deliveries, a failed one with 1', async () => {
    const ports = new FakePorts(new Set(['t1']));
    ports.unstarted = new Set(['t2']);
    const { result } = await runAll(jobOf(['invoke', 'invoke', 'invoke']), ports, []);
    expect(result.counts).toMatchObject({ invokeSucceeded: 1, invokeFailed: 2, deadLettered: 2 });
    expect(ports.deadAttempts.sort()).toEqual(['t1:1', 't2:0']);
  });

  it('invoke mode: tasks a paused run left unstarted go to the work queue under `<chunk key>~1`, no failure', async () => {
    // Chunks of 3: t0-t2, t4-t6, and t7 (flushed at the end, so its hand-on comes after the last message).
    const ports = new FakePorts(new Set(['t5']));
    ports.paused = new Set(['t1', 't2', 't7']);
    const budget = new FailureBudget(100);
    const result = await runSegment({
      jobId: 'job',
      runId: 'run',
      items: parseInlineManifest(
        jobOf(['invoke', 'invoke', 'invoke', 'queue', 'invoke', 'invoke', 'invoke', 'invoke']),
      ).items,
      startAt: 0,
      firstMessageSeq: 0,
      limits,
      budget,
      counts: emptyCounts(),
      shouldStop: () => false,
      ports,
    });
    expect(result.counts).toMatchObject({
      read: 8,
      invokeCalls: 3,
      invokeSucceeded: 3,
      invokeFailed: 1,
      enqueued: 4,
      messages: 3,
      deadLettered: 1,
    });
    expect(budget.counts).toEqual({ finished: 4, failed: 1 });
    expect(ports.deadLettered).toEqual(['t5']);
    for (let i = 0; i < 8; i++) expect(ports.started.get(`t${i}`)).toBe(1);
    // The chunks took 0, 1 and 3 of the sequence, the queue message (flushed at the end) 2.
    expect([...ports.keys].sort()).toEqual(['job:run:0~1', 'job:run:2', 'job:run:3~1']);
    expect(result.nextMessageSeq).toBe(4);
  });

  it('stops starting work once the failure budget trips, and reports where it stopped', async () => {
    const modes: Mode[] = Array.from({ length: 100 }, () => 'inline');
    const fails = new Set(Array.from({ length: 100 }, (_, i) => `t${i}`).filter((_, i) => i >= 10));
    const ports = new FakePorts(fails);
    const { result } = await runAll(jobOf(modes), ports, [], 20);
    expect(result.reason).toBe('failure-budget');
    const started = ports.started.size;
    expect(started).toBeLessThan(100);
    // Once tripped, only the tasks already holding a permit finish: at most `inline` more than the trip point.
    expect(started).toBeLessThanOrEqual(13 + limits.inline);
    expect(result.cursor).toBe(started);
    expect(result.counts.inlineSucceeded + result.counts.inlineFailed).toBe(started);
  });
});
