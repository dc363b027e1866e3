// The service end to end on the chosen backend: the real orchestrator and worker handlers, the local
// poller and Invoke endpoint, real target servers that count concurrency on their side and fail on a script.
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { FanoutConfig } from '../../lib/config.js';
import { type LocalJobReport, runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackTargets } from './fixtures/targets.js';

const target = trackTargets();

/** Small limits, so every cap is reached and checked; loopback allowed for the test's own servers. */
function limits(overrides: Partial<FanoutConfig> = {}): Partial<FanoutConfig> {
  return {
    prefix: uniquePrefix('job'),
    allowHosts: ['127.0.0.1'],
    inlineConcurrency: 8,
    enqueueConcurrency: 2,
    invokeConcurrency: 2,
    tasksPerMessage: 10,
    batchSize: 5,
    maxBatchingWindowSeconds: 0,
    workerMaxConcurrency: 3,
    workerReservedConcurrency: 5,
    perInvocationConcurrency: 4,
    maxSockets: 8,
    maxSocketsPerHost: 8,
    maxReceiveCount: 3,
    // No redelivery is planned here: longer than any invocation, even on a loaded machine.
    visibilityTimeoutSeconds: 60,
    ...overrides,
  };
}

function expectAccounted(report: LocalJobReport) {
  expect(report.unaccounted).toBe(0);
  expect(report.succeeded + report.deadLettered + report.invalid).toBe(report.submitted);
}

/** Every SQS message the poller saw, first delivery only (redeliveries carry the same MessageId). */
function messageLog() {
  const bodies = new Map<string, string>();
  return {
    onReceive: (records: readonly SQSRecord[]) => {
      for (const r of records) if (!bodies.has(r.messageId)) bodies.set(r.messageId, r.body);
    },
    /** Task ids sent by the orchestrator (attempt 1 messages), with how many messages carried each. */
    enqueued(): Map<string, number> {
      const out = new Map<string, number>();
      for (const body of bodies.values()) {
        const message = JSON.parse(body) as { attempt: number; tasks: { id: string }[] };
        if (message.attempt !== 1) continue;
        for (const t of message.tasks) out.set(t.id, (out.get(t.id) ?? 0) + 1);
      }
      return out;
    },
  };
}

describe('runLocalJob end to end', () => {
  it('2,000 tasks, a third inline and the rest queued: every task accounted for, every layer within its limit as the servers count it', async () => {
    // Two servers, so each layer is counted on its own: inline tasks hit one, queued tasks the other.
    const permanent = (id: string) => Number(id.slice(1)) % 50 === 7; // 40 tasks: 404, never retried
    const flaky = (id: string) => Number(id.slice(1)) % 40 === 3; // 503 once, then 200
    const script = (id: string, n: number) =>
      permanent(id) ? { status: 404 } : flaky(id) && n === 1 ? { status: 503 } : undefined;
    const inlineTarget = await target(script);
    const queueTarget = await target(script);
    const config = limits();
    const tasks: Record<string, unknown>[] = Array.from({ length: 1994 }, (_, i) => {
      const id = `t${i}`;
      const inline = i % 3 === 0;
      return {
        id,
        url: (inline ? inlineTarget : queueTarget).url(inline ? 'inline' : 'queue', id),
        mode: inline ? 'inline' : 'queue',
      };
    });
    // Six malformed tasks among them: each is reported and skipped, the job goes on.
    tasks.push(
      { id: 'bad-url', url: 'ftp://example.com/x' },
      { id: 'bad-mode', url: queueTarget.url('queue', 'bad-mode'), mode: 'sideways' },
      { id: 'bad-timeout', url: queueTarget.url('queue', 'bad-timeout'), timeoutMs: -5 },
      { url: queueTarget.url('queue', 'no-id') },
      { id: 'bad-method', url: queueTarget.url('queue', 'bad-method'), method: 'FETCH' },
      { id: 'unknown-field', url: queueTarget.url('queue', 'unknown-field'), colour: 'blue' },
    );
    const log = messageLog();

    const report = await runLocalJob(
      { jobId: 'integration', tasks },
      { config, backend: backend(), onReceive: log.onReceive },
    );

    console.log(
      `[integration] backend=${report.backend} status=${report.status} error=${report.error ?? ''} submitted=${report.submitted} succeeded=${report.succeeded} ` +
        `deadLettered=${report.deadLettered} invalid=${report.invalid} durationMs=${report.durationMs} ` +
        `peaks=${JSON.stringify(report.peaks)} orchestratorMs=${report.summary?.durationMs} worker=${JSON.stringify(report.worker)} poller=${JSON.stringify(report.poller)} inlineServer=${JSON.stringify(inlineTarget.server.tally)} ` +
        `queueServer=${JSON.stringify(queueTarget.server.tally)}`,
    );
    expect(report.status).toBe('partial'); // the ledger's status: some tasks invalid;
    expect(report.submitted).toBe(2000);
    expect(report.invalid).toBe(6);
    expect(report.invalidTasks.map((t) => t.id ?? `#${t.index}`).sort()).toEqual(
      ['bad-method', 'bad-mode', 'bad-timeout', 'bad-url', 'unknown-field', '#1997'].sort(),
    );
    expectAccounted(report);
    expect(report.deadLettered).toBe(40);
    expect(report.succeeded).toBe(1994 - 40);
    expect(new Set(report.deadLetteredTasks.map((t) => t.id))).toEqual(
      new Set(
        tasks
          .filter((t) => typeof t.id === 'string' && /^t\d+$/.test(t.id) && permanent(t.id))
          .map((t) => t.id),
      ),
    );

    // The servers' own view: each successful task answered 2xx exactly once, and the report's count of
    // successes is the servers' count.
    const served = new Map([...inlineTarget.successes(), ...queueTarget.successes()]);
    expect([...served.values()].every((n) => n === 1)).toBe(true);
    expect(served.size).toBe(report.succeeded);
    // Each queued task was enqueued once, in one message.
    const enqueued = log.enqueued();
    expect(enqueued.size).toBe(1994 - 665);
    expect([...enqueued.values()].every((n) => n === 1)).toBe(true);

    // Peaks never above the limits, on both sides.
    const workersLimit = config.workerMaxConcurrency!;
    const perInvocation = config.perInvocationConcurrency!;
    expect(report.peaks.inline).toBeLessThanOrEqual(config.inlineConcurrency!);
    expect(report.peaks.enqueue).toBeLessThanOrEqual(config.enqueueConcurrency!);
    expect(report.peaks.pollerWorkers).toBeLessThanOrEqual(workersLimit);
    expect(report.peaks.workers).toBeLessThanOrEqual(config.workerReservedConcurrency as number);
    expect(report.peaks.perInvocation).toBeLessThanOrEqual(perInvocation);
    expect(report.peaks.socketsPerContainer).toBeLessThanOrEqual(config.maxSocketsPerHost!);
    expect(inlineTarget.server.tally.peakInFlight).toBeLessThanOrEqual(config.inlineConcurrency!);
    expect(inlineTarget.server.tally.peakSockets).toBeLessThanOrEqual(config.maxSocketsPerHost!);
    expect(queueTarget.server.tally.peakInFlight).toBeLessThanOrEqual(workersLimit * perInvocation);
    // Each worker container has its own sockets (as each Lambda sandbox does): at most one container per
    // concurrent invocation, each within its per-host cap.
    expect(report.worker.containers).toBeLessThanOrEqual(report.peaks.workers);
    expect(queueTarget.server.tally.peakSockets).toBeLessThanOrEqual(
      report.worker.containers * config.maxSocketsPerHost!,
    );
    // The limits were used, not just respected: the inline cap was reached on the server.
    expect(inlineTarget.server.tally.peakInFlight).toBe(config.inlineConcurrency);
    expect(report.peaks.pollerWorkers).toBe(workersLimit);
  }, 300_000);

  it('runs invoke-mode tasks through the local Invoke endpoint, at most invokeConcurrency calls at once', async () => {
    const t = await target((id) => (id === 'v13' ? { status: 404 } : undefined), 5);
    const config = limits({ tasksPerMessage: 5 });
    const tasks = Array.from({ length: 60 }, (_, i) => ({
      id: `v${i}`,
      url: t.url('invoke', `v${i}`),
      mode: 'invoke',
    }));

    const report = await runLocalJob({ jobId: 'invoke', tasks }, { config, backend: backend() });

    expect(report.status).toBe('partial'); // the ledger's status: a task dead-lettered;
    expectAccounted(report);
    expect(report.succeeded).toBe(59);
    expect(report.deadLetteredTasks.map((d) => [d.id, d.source])).toEqual([['v13', 'orchestrator']]);
    expect(report.summary?.counts.invokeCalls).toBe(12);
    expect(report.peaks.invoke).toBeLessThanOrEqual(config.invokeConcurrency!);
    expect(report.peaks.workers).toBeLessThanOrEqual(config.workerReservedConcurrency as number);
    expect(t.server.tally.peakInFlight).toBeLessThanOrEqual(
      config.invokeConcurrency! * config.perInvocationConcurrency!,
    );
    expect([...t.successes().values()].every((n) => n === 1)).toBe(true);
  }, 120_000);

  it('reports a refused job with the named error, and runs nothing', async () => {
    const t = await target();
    const report = await runLocalJob(
      { jobId: 'refused', limits: { inline: -1 }, tasks: [{ id: 'a', url: t.url('inline', 'a') }] },
      { config: limits(), backend: backend() },
    );
    expect(report.status).toBe('refused');
    expect(report.error).toContain('limits.inline: -1 is not a positive integer');
    expect([report.submitted, report.succeeded, report.deadLettered, report.unaccounted]).toEqual([
      0, 0, 0, 0,
    ]);
    expect(t.server.tally.requests).toBe(0);
  });
});
