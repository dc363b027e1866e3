// `run --state DIR --resume` of a run whose orchestrator handed on continuations (a manifest longer than one
// invocation reads: the local orchestrator has 300 s, so any run that enqueues for longer): once a continuation
// has read the manifest to its end, the run can be resumed, as a run read by one invocation can. Here the
// run ends whole (no kill: the journal is what a kill after the last continuation leaves, less the open
// messages) and its resume finishes at once, sending nothing and requesting nothing again.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stateOption } from '../../local/cli/run-state.js';
import { QueueJournal } from '../../local/queue-journal.js';
import { runLocalJob } from '../../local/run-local-job.js';
import { backend, uniquePrefix } from './fixtures/aws.js';
import { trackTargets } from './fixtures/targets.js';

const target = trackTargets();
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('a resume of a run read by continuations', () => {
  it('is taken, sends nothing again, and reports the whole run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bf-resume-continued-'));
    dirs.push(dir);
    const slow = await target(undefined, 50);
    const fast = await target();
    // Inline tasks of 50 ms at 4 at once: about 1.9 s of them, past a 1.5 s orchestrator's deadline.
    const tasks = Array.from({ length: 300 }, (_, i) =>
      i % 2 === 0
        ? { id: `i${i}`, url: slow.url('inline', `i${i}`), mode: 'inline' }
        : { id: `q${i}`, url: fast.url('queue', `q${i}`), mode: 'queue' },
    );
    const config = {
      prefix: uniquePrefix('continued'),
      allowHosts: ['127.0.0.1'],
      inlineConcurrency: 4,
      tasksPerMessage: 10,
      workerMaxConcurrency: 2,
      deadlineMarginMs: 1_000,
      visibilityTimeoutSeconds: 20,
    };
    const job = { jobId: 'continued', tasks };
    const options = { config, backend: backend(), orchestratorTimeoutMs: 1_500 };
    const first = await runLocalJob(job, { ...options, state: { journal: new QueueJournal(dir) } });
    expect(first.orchestrator.continuations).toBeGreaterThan(0);
    expect([first.status, first.succeeded, first.submitted]).toEqual(['succeeded', 300, 300]);

    const marker = { format: 'bounded-fanout-state/1', manifest: 'm', startedAt: '' } as const;
    const kept = stateOption({ dir, dynamoPath: join(dir, 'dynamo'), marker, resumed: true });
    const resumed = await runLocalJob(job, { ...options, state: kept });
    expect(resumed.resumed).toMatchObject({ messages: 0, tasks: 0 });
    expect([resumed.status, resumed.succeeded, resumed.submitted, resumed.unaccounted]).toEqual([
      'succeeded',
      300,
      300,
      0,
    ]);
    expect([resumed.jobId, resumed.runId]).toEqual([first.jobId, first.runId]);
    expect(resumed.orchestrator.continuations).toBe(first.orchestrator.continuations);
    const once = (t: typeof slow) => [...t.successes().values()].every((n) => n === 1);
    expect([slow.successes().size + fast.successes().size, once(slow), once(fast)]).toEqual([
      300,
      true,
      true,
    ]);
  }, 180_000);
});
