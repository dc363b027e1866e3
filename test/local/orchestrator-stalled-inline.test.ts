// An orchestrator segment whose inline task's host never answers, end to end with the real handlers: the local
// runtime does what Lambda does at a timeout (the sandbox is killed: its slot is freed at once, nothing it does
// later reaches AWS or a task's host), so a segment that waited on the stalled request would die between its
// stop and its ledger settle. The inline cutoff (functions/segment-cutoff.ts) aborts the request when half the
// deadline margin is left and dead-letters the task: the segment settles, no copy is killed and none retried.
// Until the cutoff this test drove the killed-and-retried path; that path (copies of a segment that stop at
// different tasks, one settle counting) is now covered by test/functions/ledger.test.ts's copies at once and
// test/functions/cutoff-message-key-reused.test.ts.
import { describe, expect, it } from 'vitest';
import type { FanoutConfig } from '../../lib/config.js';
import { runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackTargets } from './fixtures/targets.js';

const target = trackTargets();

const TASKS = 120;
/** Past the first segment's reach (inline tasks take 50 ms, 2 at once, 500 ms windows), before the end. */
const STALLED = 'i80';

function config(): Partial<FanoutConfig> {
  return {
    prefix: uniquePrefix('stalled-inline'),
    allowHosts: ['127.0.0.1'],
    inlineConcurrency: 2,
    tasksPerMessage: 10,
    batchSize: 5,
    maxBatchingWindowSeconds: 0,
    workerMaxConcurrency: 2,
    workerReservedConcurrency: 6,
    perInvocationConcurrency: 4,
    maxSockets: 8,
    maxSocketsPerHost: 8,
    maxReceiveCount: 3,
    // The orchestrator reads for about 500 ms of its 1,500 ms (orchestratorTimeoutMs below).
    deadlineMarginMs: 1_000,
    visibilityTimeoutSeconds: 20,
  };
}

describe('an orchestrator segment with an inline task that never answers', () => {
  it('is not killed: the task is cut off and dead-lettered, every other task served once, counts exact', async () => {
    // The stalled task's first request is never answered.
    const slow = await target((id, n) => (id === STALLED && n === 1 ? { stall: 'headers' } : undefined), 50);
    const fast = await target();
    const tasks = Array.from({ length: TASKS }, (_, i) =>
      i % 2 === 0
        ? { id: `i${i}`, url: slow.url('inline', `i${i}`), mode: 'inline' }
        : { id: `q${i}`, url: fast.url('queue', `q${i}`), mode: 'queue' },
    );

    const report = await runLocalJob(
      { jobId: 'stalled-inline', tasks },
      { config: config(), backend: backend(), orchestratorTimeoutMs: 1_500 },
    );
    const { deadLetteredTasks, invalidTasks, summary, limits, latency, ...rest } = report;
    console.log('[stalled-inline]', JSON.stringify(rest));

    // No copy was killed: the orchestrator reported no error (a kill is a Sandbox.Timedout here).
    expect(report.orchestrator.errors).toEqual([]);
    expect(slow.answers.get(STALLED)).toEqual([0]);
    // The ledger's counts, exact: the stalled task dead-lettered with the cutoff's error, once.
    expect(report.status).toBe('partial');
    expect(report.submitted).toBe(TASKS);
    expect([report.succeeded, report.deadLettered, report.invalid, report.cancelled]).toEqual([
      TASKS - 1,
      1,
      0,
      0,
    ]);
    expect(report.unaccounted).toBe(0);
    expect(deadLetteredTasks.map((t) => [t.id, t.attempts])).toEqual([[STALLED, 1]]);
    expect(deadLetteredTasks[0]?.error).toMatch(/^BF_DEADLINE: cut off at the orchestrator.s deadline: /);
    // Every other task reached its server once: queued ones by their message's key, inline ones in the one
    // copy of their segment.
    const served = fast.successes();
    const ran = slow.successes();
    const ids = tasks.map((t) => t.id).filter((id) => id !== STALLED);
    expect(ids.filter((id) => (id.startsWith('q') ? served : ran).get(id) !== 1)).toEqual([]);
  }, 180_000);
});
