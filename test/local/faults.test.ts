// Faults, end to end with the real handlers on the chosen backend: a message delivered twice, a worker
// invocation that throws mid-batch, a deadline that forces continuations (each delivered twice), and a
// failure budget that trips. Each is checked against the target server's own record of what it answered.
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { FanoutConfig } from '../../lib/config.js';
import type { LambdaHandler } from '../../local/local-function.js';
import { type LocalJobReport, runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { type Target, trackTargets } from './fixtures/targets.js';

const target = trackTargets();

function config(label: string, overrides: Partial<FanoutConfig> = {}): Partial<FanoutConfig> {
  return {
    prefix: uniquePrefix(label),
    allowHosts: ['127.0.0.1'],
    inlineConcurrency: 4,
    tasksPerMessage: 10,
    batchSize: 5,
    maxBatchingWindowSeconds: 0,
    workerMaxConcurrency: 2,
    workerReservedConcurrency: 6,
    perInvocationConcurrency: 4,
    maxSockets: 8,
    maxSocketsPerHost: 8,
    maxReceiveCount: 3,
    // Longer than any one invocation here, even on a loaded machine (an invocation that outlives it is
    // redelivered while it runs: the misconfiguration the stack refuses), short enough for a quick test.
    visibilityTimeoutSeconds: 10,
    ...overrides,
  };
}

/** One line per run in the test output: what a failure needs to be understood. */
function log(label: string, report: LocalJobReport) {
  const { deadLetteredTasks, invalidTasks, summary, limits, ...rest } = report;
  console.log(`[${label}]`, JSON.stringify(rest), JSON.stringify(deadLetteredTasks.slice(0, 3)));
}

function expectAccounted(report: LocalJobReport) {
  expect(report.unaccounted).toBe(0);
  expect(report.succeeded + report.deadLettered + report.invalid).toBe(report.submitted);
}

const queued = (t: Target, n: number, prefix = 'q') =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: t.url('queue', `${prefix}${i}`),
    mode: 'queue',
  }));

/** The target answered 2xx to each of these ids exactly once. */
function expectEachSucceededOnce(t: Target, ids: readonly string[]) {
  const successes = t.successes();
  expect(ids.filter((id) => successes.get(id) !== 1)).toEqual([]);
}

/**
 * 300 tasks, every other one inline to a target that answers in 50 ms (at 4 at once, about 1.9 s of them: past
 * a 1.5 s orchestrator's deadline), the rest queued to a fast one.
 */
async function inlineAndQueued() {
  const slow = await target(undefined, 50);
  const fast = await target();
  const tasks = Array.from({ length: 300 }, (_, i) =>
    i % 2 === 0
      ? { id: `i${i}`, url: slow.url('inline', `i${i}`), mode: 'inline' }
      : { id: `q${i}`, url: fast.url('queue', `q${i}`), mode: 'queue' },
  );
  return { slow, fast, tasks };
}

describe('faults', () => {
  it('a message delivered twice does not run its tasks twice', async () => {
    const t = await target();
    const tasks = queued(t, 60);
    // The first delete of every message is lost: SQS delivers each message a second time.
    const loseDelete = (record: SQSRecord) => record.attributes.ApproximateReceiveCount === '1';

    const report = await runLocalJob(
      { jobId: 'twice', tasks },
      { config: config('twice'), backend: backend(), faults: { loseDelete } },
    );
    log('twice', report);

    expect(report.status).toBe('succeeded');
    expectAccounted(report);
    expect(report.succeeded).toBe(60);
    expect(report.poller.deletesLost).toBe(6);
    // Each message was settled by its first delivery; the second delivery found it done and ran nothing.
    expect(report.worker.duplicates).toBe(0);
    expectEachSucceededOnce(
      t,
      tasks.map((task) => task.id),
    );
  }, 180_000);

  // A message delivered twice is settled once (message-level idempotency in 'task' mode too), so its failed
  // tasks are dead-lettered once, not once per delivery.
  it('a message delivered twice does not dead-letter its failed tasks twice', async () => {
    const failing = (id: string) => id.endsWith('7');
    const t = await target((id) => (failing(id) ? { status: 404 } : undefined));
    const tasks = queued(t, 30);
    const loseDelete = (record: SQSRecord) => record.attributes.ApproximateReceiveCount === '1';

    const report = await runLocalJob(
      { jobId: 'twice-failed', tasks },
      {
        config: config('twice-failed', { maxReceiveCount: 2, visibilityTimeoutSeconds: 5 }),
        backend: backend(),
        faults: { loseDelete },
      },
    );
    log('twice-failed', report);

    expect(report.succeeded).toBe(27);
    expect(report.deadLetters.distinct).toBe(3);
    expect(report.deadLettered).toBe(3);
    expectAccounted(report);
  }, 180_000);

  it('a worker invocation that throws mid-batch loses nothing', async () => {
    const t = await target(undefined, 10);
    const tasks = queued(t, 100);
    let crashes = 0;
    // The first two SQS invocations throw once their batch has started hitting the target: SQS then
    // redelivers the whole batch. (The handler's own promise cannot be frozen here as Lambda would freeze
    // it; it runs on, and its tasks must not run again on the redelivery.)
    const wrapWorker =
      (handler: LambdaHandler): LambdaHandler =>
      async (event, context) => {
        if (!event?.Records || crashes >= 2) return handler(event, context);
        crashes++;
        const before = t.server.tally.requests;
        const running = Promise.resolve(handler(event, context));
        running.catch(() => {});
        while (t.server.tally.requests === before) await new Promise((resolve) => setTimeout(resolve, 2));
        throw new Error('scripted crash mid-batch');
      };

    const report = await runLocalJob(
      { jobId: 'crash', tasks },
      { config: config('crash'), backend: backend(), faults: { wrapWorker } },
    );

    log('crash', report);
    expect(crashes).toBe(2);
    expect(report.poller.invocationErrors).toBe(2);
    expect(report.status).toBe('succeeded');
    expectAccounted(report);
    expect(report.succeeded).toBe(100);
    expect(report.deadLettered).toBe(0);
    expectEachSucceededOnce(
      t,
      tasks.map((task) => task.id),
    );
  }, 180_000);

  it('a deadline that forces continuations, each delivered twice, completes with each task enqueued once', async () => {
    // Inline tasks take 50 ms at 4 at once: 150 of them need about 1.9 s, over 500 ms windows.
    const { slow, fast, tasks } = await inlineAndQueued();
    const firstDeliveries = new Map<string, string>();
    const onReceive = (records: readonly SQSRecord[]) => {
      for (const r of records)
        if (!firstDeliveries.has(r.messageId)) firstDeliveries.set(r.messageId, r.body);
    };

    const report = await runLocalJob(
      { jobId: 'deadline', tasks },
      {
        config: config('deadline', { deadlineMarginMs: 1_000, visibilityTimeoutSeconds: 20 }),
        backend: backend(),
        orchestratorTimeoutMs: 1_500,
        faults: { asyncDeliveries: 2 },
        onReceive,
      },
    );
    log('deadline', report);

    expect(report.status).toBe('succeeded');
    expect(report.orchestrator.continuations).toBeGreaterThanOrEqual(2);
    // Every continuation was delivered twice; the second delivery of each did nothing.
    expect(report.orchestrator.duplicates).toBe(report.orchestrator.continuations);
    expect(report.summary?.segments).toBe(report.orchestrator.continuations + 1);
    expectAccounted(report);
    expect(report.succeeded).toBe(300);
    const enqueued = new Map<string, number>();
    for (const body of firstDeliveries.values()) {
      const message = JSON.parse(body) as { attempt: number; tasks: { id: string }[] };
      if (message.attempt === 1)
        for (const task of message.tasks) enqueued.set(task.id, (enqueued.get(task.id) ?? 0) + 1);
    }
    expect(enqueued.size).toBe(150);
    expect([...enqueued.values()].every((n) => n === 1)).toBe(true);
    expectEachSucceededOnce(
      slow,
      tasks.filter((task) => task.mode === 'inline').map((task) => task.id),
    );
    expectEachSucceededOnce(
      fast,
      tasks.filter((task) => task.mode === 'queue').map((task) => task.id),
    );
  }, 180_000);

  it('a continuation that fails every attempt breaks the run: failed, reason orchestrator-failed, every counted task ended', async () => {
    const { slow, fast, tasks } = await inlineAndQueued();
    let attempts = 0;
    // Segment 1 throws at once, each of Lambda's three attempts: the local runtime's retries, then its on-failure
    // destination (the worker) breaks the run, as in AWS.
    const wrapOrchestrator =
      (handler: LambdaHandler): LambdaHandler =>
      (event, context) => {
        if ((event as { continuation?: unknown }).continuation) {
          attempts++;
          throw new Error('segment 1 cannot start');
        }
        return handler(event, context);
      };
    const report = await runLocalJob(
      { jobId: 'broken-chain', tasks },
      {
        config: config('broken', { deadlineMarginMs: 1_000, visibilityTimeoutSeconds: 20 }),
        backend: backend(),
        orchestratorTimeoutMs: 1_500,
        faults: { wrapOrchestrator },
      },
    );
    log('broken-chain', report);

    expect(attempts).toBe(3);
    expect(report.status).toBe('failed');
    expect(report.reason).toBe('orchestrator-failed');
    // The ledger's record ended (the report takes its status from an ended record only), and says why.
    expect(report.detail).toMatch(
      /^orchestrator segment 1 \(the manifest from task \d+\) failed for good after 3 attempts \(RetriesExhausted\): Error: segment 1 cannot start$/,
    );
    // Segment 0 read part of the manifest and settled; the rest was never read, nor counted.
    expect(report.submitted).toBeGreaterThan(0);
    expect(report.submitted).toBeLessThan(300);
    expectAccounted(report);
    // Each task counted succeeded reached its host once; nothing past segment 0 was sent.
    const ids = [...slow.successes().keys(), ...fast.successes().keys()];
    expect(ids).toHaveLength(report.succeeded);
    expectEachSucceededOnce(slow, [...slow.successes().keys()]);
    expectEachSucceededOnce(fast, [...fast.successes().keys()]);
  }, 180_000);

  // Only a failure another try could fix goes round the queue: a permanent one is sent once and dead-lettered
  // on its first delivery; a retryable one gets maxReceiveCount deliveries of runHttpTask's 4 attempts.
  it('permanent failures are sent once, retryable ones go round maxReceiveCount deliveries, all accounted', async () => {
    const replies: Record<string, { status?: number; reset?: boolean; headers?: Record<string, string> }> = {
      p404: { status: 404 },
      p400: { status: 400 },
      p401: { status: 401 },
      p410: { status: 410 },
      p422: { status: 422 },
      post500: { status: 500 },
      r503: { status: 503, headers: { 'retry-after': '0' } },
      reset: { reset: true },
    };
    const t = await target((id) => replies[id]);
    const failing = Object.keys(replies).map((id) => ({
      id,
      url: t.url('queue', id),
      mode: 'queue',
      ...(id === 'post500' ? { method: 'POST', body: '{}' } : {}),
    }));
    const tasks = [...failing, ...queued(t, 12, 'ok'), { id: 'bad', url: 'nope', mode: 'queue' }];
    const report = await runLocalJob(
      { jobId: 'permanent', tasks },
      { config: config('permanent', { tasksPerMessage: 5 }), backend: backend() },
    );
    log('permanent', report);

    expectAccounted(report);
    expect([report.submitted, report.succeeded, report.deadLettered, report.invalid]).toEqual([21, 12, 8, 1]);
    const requests = Object.fromEntries(failing.map(({ id }) => [id, t.answers.get(id)?.length ?? 0]));
    expect(requests).toEqual({
      p404: 1,
      p400: 1,
      p401: 1,
      p410: 1,
      p422: 1,
      post500: 1,
      r503: 12,
      reset: 12,
    });
    const attempts = Object.fromEntries(report.deadLetteredTasks.map((d) => [d.id, d.attempts]));
    expect(attempts).toEqual({ p404: 1, p400: 1, p401: 1, p410: 1, p422: 1, post500: 1, r503: 3, reset: 3 });
    expect(report.deadLetters).toMatchObject({ tasks: 8, distinct: 8 });
  }, 180_000);

  // The worker times itself: against a host that never answers, with 4 s invocations and 2 s attempts, it
  // starts only the attempts it can finish, hands the rest on unspent and settles every message before
  // Lambda's timeout. So no invocation is killed, no raw message reaches the DLQ through SQS redrive, and
  // each task is dead-lettered once, by the worker, after maxReceiveCount deliveries in which it started:
  // one request each (a retry never fits in what is left after the first attempt). 4 s, not 2 s: a 2 s
  // invocation keeps 500 ms to settle (lib/fanout/settle-reserve.ts), and a loaded 2-core machine overran it
  // (load 11: 13 invocations timed out in 6 runs at 2 s, 1 in 6 at 4 s, which keeps 1 s), the last settle of
  // the run writing its result object besides. A killed invocation may have sent dead letters it never
  // counted: its redelivery sends them again, as it must (the DLQ is at least once, docs/ledger.md).
  it('a host that never answers: each task dead-lettered once, by the worker, no invocation timed out', async () => {
    const t = await target(() => ({ stall: 'headers' }));
    const tasks = queued(t, 20, 's');
    const maxReceiveCount = 2;
    const report = await runLocalJob(
      { jobId: 'stalled', tasks },
      {
        config: config('stalled', {
          tasksPerMessage: 5,
          batchSize: 2,
          workerTimeoutSeconds: 4,
          requestTimeoutMs: 2_000,
          // 6 x the worker's timeout, as the budget asks (validateBudget).
          visibilityTimeoutSeconds: 24,
          maxReceiveCount,
        }),
        backend: backend(),
      },
    );
    log('stalled', report);

    expectAccounted(report);
    expect(report.succeeded).toBe(0);
    expect(report.deadLettered).toBe(20);
    expect(report.deadLetters).toMatchObject({ tasks: 20, distinct: 20 });
    expect(report.deadLetters.bySource).toEqual({ orchestrator: 0, worker: 20, redrive: 0 });
    expect(report.worker.errors).toBe(0);
    // 10 tasks a batch, 4 at once: every invocation hands some on.
    expect(report.worker.handedOn).toBeGreaterThan(0);
    expect(report.poller.invocationErrors).toBe(0);
    expect(report.deadLetteredTasks.every((d) => d.attempts === maxReceiveCount)).toBe(true);
    expect(tasks.map((task) => t.answers.get(task.id)?.length ?? 0)).toEqual(
      tasks.map(() => maxReceiveCount),
    );
  }, 180_000);

  it('a failure budget that trips stops the job: nothing after it starts, everything started is accounted for', async () => {
    // The first 100 tasks succeed, then every other one fails: past 20% failed the budget trips, midway.
    const failing = (id: string) => Number(id.slice(1)) >= 100 && Number(id.slice(1)) % 2 === 0;
    const t = await target((id) => (failing(id) ? { status: 404 } : undefined), 5);
    const tasks = Array.from({ length: 400 }, (_, i) => ({
      id: `i${i}`,
      url: t.url('inline', `i${i}`),
      mode: 'inline',
    }));

    const report = await runLocalJob(
      { jobId: 'budget', toleratedFailurePercent: 20, tasks },
      { config: config('budget'), backend: backend() },
    );
    log('budget', report);

    expect(report.status).toBe('failed');
    expect(report.reason).toBe('failure-budget');
    expectAccounted(report);
    expect(report.submitted).toBeGreaterThan(100);
    expect(report.notStarted).toBeGreaterThan(0);
    expect(report.submitted + report.notStarted!).toBe(400);
    // The target saw no task the job did not start.
    const stoppedAt = report.summary!.stoppedAtTask!;
    expect(stoppedAt).toBe(report.submitted);
    const seen = [...t.answers.keys()].map((id) => Number(id.slice(1)));
    expect(Math.max(...seen)).toBeLessThan(stoppedAt);
    expect(report.deadLettered).toBe(tasks.slice(0, stoppedAt).filter((task) => failing(task.id)).length);
  }, 180_000);
});
