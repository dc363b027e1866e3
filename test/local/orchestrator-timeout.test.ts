// An orchestrator segment that times out and is retried, end to end with the real handlers: the local runtime
// does what Lambda does at a timeout (the sandbox is killed: its slot is freed at once, nothing it does later
// reaches AWS or a task's host), and the async invoke is retried. The segment's first copy stalls on one
// inline task after it stopped reading, so it dies between its stop and its ledger settle, with what it had
// sent already in the queue; the retry reads the same part of the manifest again and stops elsewhere. Nothing
// may be lost or counted twice: the ledger's counts are exact and each queued task reaches its server once.
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
    prefix: uniquePrefix('segment-retry'),
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

describe('an orchestrator segment that times out and is retried', () => {
  it('loses and double-counts no task: exact ledger counts, each queued task served once, each inline task at least once', async () => {
    // The stalled task's first request is never answered (the killed copy's socket is closed); its retry is.
    const slow = await target((id, n) => (id === STALLED && n === 1 ? { stall: 'headers' } : undefined), 50);
    const fast = await target();
    const tasks = Array.from({ length: TASKS }, (_, i) =>
      i % 2 === 0
        ? { id: `i${i}`, url: slow.url('inline', `i${i}`), mode: 'inline' }
        : { id: `q${i}`, url: fast.url('queue', `q${i}`), mode: 'queue' },
    );

    const report = await runLocalJob(
      { jobId: 'segment-retry', tasks },
      { config: config(), backend: backend(), orchestratorTimeoutMs: 1_500 },
    );
    const { deadLetteredTasks, invalidTasks, summary, limits, latency, ...rest } = report;
    console.log('[segment-retry]', JSON.stringify(rest));
    console.log('[segment-retry] inline', JSON.stringify([...slow.answers]));
    console.log('[segment-retry] queue', JSON.stringify([...fast.answers]));

    // The stalled copy did time out, and its retry ran the segment.
    expect(slow.answers.get(STALLED)?.[0]).toBe(0);
    expect(report.orchestrator.errors).toEqual([]);
    // The ledger's counts, exact.
    expect(report.status).toBe('succeeded');
    expect(report.submitted).toBe(TASKS);
    expect(report.succeeded + report.deadLettered + report.invalid + report.cancelled).toBe(TASKS);
    expect([report.succeeded, report.deadLettered, report.invalid, report.cancelled]).toEqual([
      TASKS,
      0,
      0,
      0,
    ]);
    expect(report.unaccounted).toBe(0);
    // Queue mode: each task's message is sent by every copy of its segment under the same key, and the
    // worker runs a key once. Inline mode: a retried segment runs its inline tasks again (at least once).
    const queued = tasks.filter((t) => t.mode === 'queue').map((t) => t.id);
    const served = fast.successes();
    expect(queued.filter((id) => served.get(id) !== 1)).toEqual([]);
    const inline = tasks.filter((t) => t.mode === 'inline').map((t) => t.id);
    const ran = slow.successes();
    expect(inline.filter((id) => (ran.get(id) ?? 0) < 1 || (ran.get(id) ?? 0) > 2)).toEqual([]);
  }, 180_000);
});
