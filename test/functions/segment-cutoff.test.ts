import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountingServer } from '../../bench/servers/counting-server.js';
import { IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { type Containers, startContainers, type Worker } from './containers.js';
import { drainQueue, fakeContext, type Harness, quietPowertools } from './harness.js';
import { startStallingServer } from './stalling-server.js';

// The orchestrator's inline tasks against a host that never answers (functions/segment-cutoff.ts). Reading
// stops when deadlineMarginMs (1 s here) is left; when half of it is left, an inline task still running is
// aborted and dead-lettered with its error, so the segment settles in time and the run ends with every task
// counted. Before, the orchestrator waited on the stalled request until Lambda killed it: nothing settled, the
// run broken. Through the real handlers, against the backend's real queues and tables and a real HTTP target
// on 127.0.0.1 counting requests per task.

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let ledger: JobLedger;
let worker: Worker;

beforeAll(async () => {
  server = await startStallingServer();
  c = await startContainers({ inlineConcurrency: 4, perInvocationConcurrency: 4, deadlineMarginMs: 1000 });
  ({ h, ledger } = c);
  worker = c.workerOf(c.container(IdempotencyModes.MESSAGE));
});

afterAll(async () => {
  await c?.destroy();
  await server?.close();
});

const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;
const url = (id: string, kind = '') => `${server.url}/${kind ? `${kind}/` : ''}${id}`;
const inline = (id: string, kind = '', extra: Record<string, unknown> = {}) => ({
  id,
  url: url(id, kind),
  mode: 'inline',
  ...extra,
});

/** The orchestrator with `ms` left in its invocation from now: reading stops at 1 s left, the cutoff at 0.5 s. */
function orchestrate(jobId: string, tasks: readonly unknown[], ms = 3_000) {
  const end = Date.now() + ms;
  return c.orchestrator(
    { jobId, runId: 'r1', tasks },
    fakeContext(() => end - Date.now()),
  );
}

async function countsOf(jobId: string) {
  const r = await ledger.getRun(jobId, 'r1');
  const { submitted, succeeded, deadLettered, undeliverable, invalid, cancelled } = r ?? {};
  return { status: r?.status, submitted, succeeded, deadLettered, undeliverable, invalid, cancelled };
}

const zero = { undeliverable: 0, invalid: 0, cancelled: 0 };

describe('inline tasks at the invocation’s deadline', () => {
  it('a stalled inline task is cut off and dead-lettered with its error: the run settles and ends, counts exact', async () => {
    const tasks = [
      inline('cut-0', 'stall'),
      inline('cut-1'),
      inline('cut-post', 'stall', { method: 'POST', body: 'x' }),
      { id: 'cut-q0', url: url('cut-q0') },
      { id: 'cut-q1', url: url('cut-q1') },
    ];
    await orchestrate('cutoff-run', tasks);
    await c.drain(worker);
    expect(await countsOf('cutoff-run')).toEqual({
      status: 'partial',
      submitted: 5,
      succeeded: 3,
      deadLettered: 2,
      ...zero,
    });
    // Each task reached its host once: the cut-off ones are not sent again (a redrive would).
    expect(['cut-0', 'cut-1', 'cut-post', 'cut-q0', 'cut-q1'].map(hits)).toEqual([1, 1, 1, 1, 1]);
    const dead = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    const records = dead.flatMap((m) => JSON.parse(m.Body ?? '{}').tasks ?? []);
    const byId = Object.fromEntries(
      records.map((r: { task: { id: string }; error: string }) => [r.task.id, r.error]),
    );
    expect(Object.keys(byId).sort()).toEqual(['cut-0', 'cut-post']);
    for (const error of Object.values(byId))
      expect(error).toMatch(/^BF_DEADLINE: cut off at the orchestrator.s deadline: /);
  });

  it('fast inline tasks in a short invocation run inline, none refused for want of time, none handed on', async () => {
    const tasks = Array.from({ length: 12 }, (_, i) => inline(`fast-${i}`, '', { timeoutMs: 30_000 }));
    await orchestrate('cutoff-fast', tasks);
    expect(await drainQueue(h.sqs, h.resources.queueUrl)).toEqual([]);
    expect(await countsOf('cutoff-fast')).toEqual({
      status: 'succeeded',
      submitted: 12,
      succeeded: 12,
      deadLettered: 0,
      ...zero,
    });
    expect(tasks.map((t) => hits(t.id))).toEqual(Array(12).fill(1));
  });
});
