// The worker's containers on their own threads (`containers: 'threads'`, local/thread-container.ts), end to
// end: the same manifest as in this process gives the same counts, and every observation the report needs
// crosses the thread boundary (in flight, latency, sockets, the functions' EMF metrics) within its limits.
import { describe, expect, it } from 'vitest';
import type { FanoutConfig } from '../../lib/config.js';
import { type LocalJobReport, runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackTargets } from './fixtures/targets.js';

const target = trackTargets();

function limits(): Partial<FanoutConfig> {
  return {
    prefix: uniquePrefix('threads'),
    allowHosts: ['127.0.0.1'],
    inlineConcurrency: 4,
    tasksPerMessage: 10,
    batchSize: 5,
    maxBatchingWindowSeconds: 0,
    workerMaxConcurrency: 3,
    workerReservedConcurrency: 5,
    perInvocationConcurrency: 4,
    maxSockets: 8,
    maxSocketsPerHost: 8,
    maxReceiveCount: 3,
    visibilityTimeoutSeconds: 60,
  };
}

async function run(containers: 'inline' | 'threads'): Promise<{ report: LocalJobReport; served: number }> {
  const permanent = (id: string) => Number(id.slice(1)) % 50 === 7; // 404, never retried
  const flaky = (id: string) => Number(id.slice(1)) % 40 === 3; // 503 once, then 200
  const server = await target((id, n) =>
    permanent(id) ? { status: 404 } : flaky(id) && n === 1 ? { status: 503 } : undefined,
  );
  const tasks = Array.from({ length: 600 }, (_, i) => ({
    id: `t${i}`,
    url: server.url('queue', `t${i}`),
    mode: i % 6 === 0 ? 'inline' : 'queue',
  }));
  const config = limits();
  const report = await runLocalJob(
    { jobId: `threads-${containers}`, tasks },
    { config, backend: backend(), containers },
  );
  console.log(
    `[${containers}] status=${report.status} succeeded=${report.succeeded} deadLettered=${report.deadLettered} ` +
      `durationMs=${report.durationMs} peaks=${JSON.stringify(report.peaks)} worker=${JSON.stringify(report.worker)} ` +
      `latency.count=${report.latency?.count} server=${JSON.stringify(server.server.tally)}`,
  );
  expect(report.peaks.pollerWorkers).toBeLessThanOrEqual(config.workerMaxConcurrency!);
  expect(report.peaks.workers).toBeLessThanOrEqual(config.workerReservedConcurrency as number);
  expect(report.worker.containers).toBeLessThanOrEqual(report.peaks.workers);
  expect(report.peaks.perInvocation).toBeLessThanOrEqual(config.perInvocationConcurrency!);
  expect(report.peaks.socketsPerContainer).toBeLessThanOrEqual(config.maxSocketsPerHost!);
  return { report, served: server.successes().size };
}

describe('worker containers on threads', () => {
  it('the same manifest gives the same counts as in-process containers, and the observations cross the boundary', async () => {
    const inline = await run('inline');
    const threads = await run('threads');
    for (const { report, served } of [inline, threads]) {
      expect(report.unaccounted).toBe(0);
      expect(report.deadLettered).toBe(12);
      expect(report.succeeded).toBe(588);
      expect(served).toBe(report.succeeded);
    }
    const a = inline.report;
    const b = threads.report;
    // The worker's own EMF counts (via the threads' log lines) and the runtime's observations agree. How many
    // invocations and containers, and the peaks, depend on how receives batch the messages: bounded, not equal.
    const { invocations: _a, containers: _b, ...counts } = a.worker;
    expect(b.worker).toMatchObject(counts);
    expect(b.worker.invocations).toBeGreaterThan(0);
    expect(b.latency?.count).toBe(a.latency?.count); // every HTTP attempt, as scripted: 615
    // In flight per layer and sockets, seen from the threads, within the same limits (checked in run()).
    expect(b.peaks.perInvocation).toBeGreaterThan(0);
    expect(b.peaks.socketsPerContainer).toBeGreaterThan(0);
    expect(b.peaks.pollerWorkers).toBeGreaterThan(0);
  }, 300_000);
});
