import { describe, expect, it } from 'vitest';
import { FailureBudget } from '../../../lib/fanout/failure-budget.js';
import { readDeadLetterBody } from '../../../lib/fanout/messages.js';
import { runSegment, type SendEntry } from '../../../lib/fanout/segment.js';
import { emptyCounts } from '../../../lib/fanout/summary.js';
import type { TaskOutcome } from '../../../lib/fanout/task-outcome.js';
import { parseInlineManifest } from '../../../lib/manifest/index.js';

// Regression test (found by an adversarial reviewer; it failed before lib/fanout/segment.ts wrote
// `result.unstarted ? 0 : 1`): an inline task the cutoff stopped before it was ever sent (waiting for a host
// permit of a limited host, or for its inline slot's turn at a rate limit) was dead-lettered with `attempts: 1`, as if its request had gone out. runOverHttp says
// `unstarted` (attempts 0), and the invoke path already writes `attempts: 0` for a task never started
// (lib/fanout/invoke-chunk.ts; docs/service.md: "one the worker had no time to start with `attempts: 0`").
// For a POST the difference is whether a redrive may send it twice: the record must say it was never sent.
// Seen end to end: a host limited to 1 connection, one inline GET stalled on it and three inline POSTs waiting
// for its permit; at the cutoff all four are dead-lettered with attempts 1, the three POSTs never requested.
// Ports are in-memory stand-ins (a FAKE), as in test/lib/fanout/segment-cutoff.test.ts.

describe('an inline task the cutoff stopped before it started', () => {
  it('is dead-lettered with attempts 0 (never sent), one cut off mid-request with attempts 1', async () => {
    const cutoff = new AbortController();
    const dead: { id: string; attempts: number }[] = [];
    const runInline = async (task: { id: string }, signal?: AbortSignal): Promise<TaskOutcome> => {
      const { id } = task;
      await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
      // `sent` reached its host before the abort; `waiting` was still queued for a host permit.
      return id === 'sent'
        ? { id, ok: false, status: 0, attempts: 1, retryable: false, error: 'BF_ABORTED: aborted' }
        : { id, ok: false, attempts: 0, retryable: true, unstarted: true, error: 'BF_ABORTED: aborted' };
    };
    const timer = setTimeout(() => cutoff.abort(), 20);
    const job = {
      jobId: 'job',
      runId: 'run',
      tasks: [
        { id: 'sent', url: 'http://h/sent', mode: 'inline', method: 'POST' },
        { id: 'waiting', url: 'http://h/waiting', mode: 'inline', method: 'POST' },
      ],
    };
    const result = await runSegment({
      jobId: 'job',
      runId: 'run',
      items: parseInlineManifest(job).items,
      startAt: 0,
      firstMessageSeq: 0,
      limits: { inline: 2, enqueue: 1, invoke: 1, tasksPerMessage: 5, tasksPerInvoke: 5 },
      budget: new FailureBudget(100),
      counts: emptyCounts(),
      shouldStop: () => cutoff.signal.aborted,
      cutoff: cutoff.signal,
      ports: {
        runInline,
        sendTasks: async () => [],
        sendDeadLetters: async (entries: readonly SendEntry[]) => {
          for (const entry of entries) {
            const body = readDeadLetterBody(entry.MessageBody);
            if (body.kind !== 'dead-letter') throw new Error(`not a dead letter: ${body.kind}`);
            for (const t of body.message.tasks) dead.push({ id: t.task.id, attempts: t.attempts });
          }
          return [];
        },
        invoke: async () => [],
      },
    }).finally(() => clearTimeout(timer));
    expect(result.counts.deadLettered).toBe(2);
    expect(dead.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'sent', attempts: 1 },
      { id: 'waiting', attempts: 0 },
    ]);
  });
});
