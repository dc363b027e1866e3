// An `invoke` task to a host that never answers, end to end with the real handlers (found by an adversarial
// reviewer). The orchestrator awaits its synchronous Invoke of the worker, and the worker runs the task under
// its own, longer deadline (its attempts, backoff and timeout), not the orchestrator's: so an Invoke started just
// before reading stops (deadlineMarginMs left) outlived the invocation. With the stack's defaults (orchestrator
// margin 10 s, requestTimeoutMs 10 s, worker 60 s) one stalled host did it: three 10 s attempts. Scaled down
// here: orchestrator 3 s, margin 1 s, the task's timeoutMs 4 s, the worker 10 s. Before the cutoff abandoned the
// Invoke (functions/segment-cutoff.ts), the orchestrator timed out (`Sandbox.Timedout`) and the run was `broken`
// with nothing submitted; now the chunk's task is dead-lettered with the cutoff's error and the run ends.
import { describe, expect, it } from 'vitest';
import { runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackTargets } from './fixtures/targets.js';

const target = trackTargets();

describe('an invoke task to a host that never answers', () => {
  it('does not hold the orchestrator past its deadline: the segment settles, every task is counted', async () => {
    const stalled = await target((id) => (id === 'v0' ? { stall: 'headers' } : undefined));
    const tasks = [
      { id: 'v0', url: stalled.url('invoke', 'v0'), mode: 'invoke', timeoutMs: 4_000 },
      ...Array.from({ length: 6 }, (_, i) => ({ id: `q${i}`, url: stalled.url('queue', `q${i}`) })),
    ];
    const report = await runLocalJob(
      { jobId: 'invoke-stall', limits: { tasksPerMessage: 3, tasksPerInvoke: 1 }, tasks },
      {
        config: {
          prefix: uniquePrefix('invoke-stall'),
          allowHosts: ['127.0.0.1'],
          requestTimeoutMs: 1_000,
          deadlineMarginMs: 1_000,
          maxReceiveCount: 2,
          maxBatchingWindowSeconds: 0,
        },
        backend: backend(),
        orchestratorTimeoutMs: 3_000,
        workerTimeoutMs: 10_000,
      },
    );
    expect(report.orchestrator.errors).toEqual([]);
    expect(report.status).toBe('partial');
    expect(report.submitted).toBe(7);
    expect([report.succeeded, report.deadLettered, report.invalid, report.cancelled]).toEqual([6, 1, 0, 0]);
    expect(report.unaccounted).toBe(0);
    expect(report.deadLetteredTasks.map((t) => t.id)).toEqual(['v0']);
    expect(report.deadLetteredTasks[0]?.error).toMatch(
      /^BF_DEADLINE: cut off at the orchestrator.s deadline: invoke failed/,
    );
    // The queued tasks reached the host once each.
    const served = stalled.successes();
    expect(Array.from({ length: 6 }, (_, i) => served.get(`q${i}`))).toEqual(Array(6).fill(1));
  }, 120_000);
});
