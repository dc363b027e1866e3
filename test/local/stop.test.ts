// Stopping a job mid-way (runLocalJob's `signal`, what the CLI's first Ctrl-C aborts) while the orchestrator is
// still reading the manifest: it reads no further, its continuation is kept instead of run, and the report lists
// as unfinished exactly the tasks the target never completed: those left in the work queue and those never read.
import { describe, expect, it } from 'vitest';
import { UnfinishedReasons } from '../../local/job-report.js';
import { runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackTargets } from './fixtures/targets.js';

const startTarget = trackTargets();

describe('a job stopped while the orchestrator reads', () => {
  it('keeps the continuation and lists every task not completed, read or not', async () => {
    const stop = new AbortController();
    let requests = 0;
    // Queue tasks (odd ids) answer slower than inline ones, so the workers lag behind and some wait in the queue.
    const target = await startTarget((id) => {
      if (++requests === 30) stop.abort();
      return Number(id.slice(2)) % 2 ? { delayMs: 20 } : undefined;
    }, 2);
    const ids = Array.from({ length: 400 }, (_, i) => `s-${i}`);
    const tasks = ids.map((id, i) => ({ id, url: target.url('task', id), mode: i % 2 ? 'queue' : 'inline' }));
    const report = await runLocalJob(
      { jobId: 'stopped', tasks },
      {
        backend: backend(),
        signal: stop.signal,
        config: {
          prefix: uniquePrefix('stop'),
          allowHosts: ['127.0.0.1'],
          inlineConcurrency: 2,
          tasksPerMessage: 5,
          batchSize: 1,
          maxBatchingWindowSeconds: 0,
          workerMaxConcurrency: 2,
          perInvocationConcurrency: 2,
          idempotency: 'off',
        },
      },
    );
    expect(report).toMatchObject({ status: 'stopped', interrupted: true, submitted: 400, deadLettered: 0 });
    expect(report.unaccounted).toBe(0);
    const completed = target.successes();
    expect(report.succeeded).toBe(completed.size);
    const never = ids.filter((id) => !completed.has(id));
    expect(report.unfinished).toBe(never.length);
    expect(new Set(report.unfinishedTasks.map((t) => t.id))).toEqual(new Set(never));
    // Some were never read (the orchestrator stopped reading), some were waiting in the queue.
    const reasons = new Set(report.unfinishedTasks.map((t) => t.error));
    expect(reasons).toEqual(new Set([UnfinishedReasons.UNREAD, UnfinishedReasons.QUEUED]));
    for (const t of report.unfinishedTasks) expect(t.task).toMatchObject({ id: t.id });
  }, 120_000);
});
