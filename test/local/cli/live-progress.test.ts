// The live counts the CLI builds from what the runtime hands out: its LocalProgress samples and the functions'
// EMF lines (real lines as Powertools Metrics writes them, captured from a run).
import { describe, expect, it } from 'vitest';
import { retryJobId } from '../../../local/cli/job-source.js';
import { LiveProgress } from '../../../local/cli/live-progress.js';
import type { LocalProgress } from '../../../local/run-local-job.js';

const workerEmf = (succeeded: number, deadLettered: number) =>
  JSON.stringify({
    _aws: {
      Timestamp: 1795600464187,
      CloudWatchMetrics: [
        {
          Namespace: 'BoundedFanout',
          Dimensions: [['service']],
          Metrics: [
            { Name: 'TasksSucceeded', Unit: 'Count' },
            { Name: 'TasksDeadLettered', Unit: 'Count' },
            { Name: 'PeakInFlight', Unit: 'Count' },
          ],
        },
      ],
    },
    service: 'worker',
    TasksSucceeded: succeeded,
    TasksDeadLettered: deadLettered,
    PeakInFlight: 16,
  });

const orchestratorEmf = JSON.stringify({
  _aws: {
    Timestamp: 1,
    CloudWatchMetrics: [{ Namespace: 'BoundedFanout', Dimensions: [['service']], Metrics: [] }],
  },
  service: 'orchestrator',
  Tasks_inlineSucceeded: 28,
  Tasks_invokeSucceeded: 2,
  Tasks_deadLettered: 1,
});

const progress = (over: Partial<LocalProgress> = {}): LocalProgress => ({
  t: 100,
  orchestratorsInFlight: 1,
  workersInFlight: 3,
  socketsOpen: 40,
  queue: { visible: 4, inFlight: 2, delayed: 1 },
  workerContainers: 3,
  inlineInFlight: 0,
  workerTasksInFlight: 12,
  eventSourceMaxConcurrency: 2,
  ...over,
});

describe('LiveProgress', () => {
  it('adds up the worker batches and the orchestrator summary from EMF lines, ignoring everything else', () => {
    const live = new LiveProgress({ tasksPerMessage: 25 });
    live.onLogLine(workerEmf(168, 0));
    live.onLogLine(workerEmf(0, 2));
    live.onLogLine(orchestratorEmf);
    live.onLogLine('{"level":"INFO","message":"batch done","succeeded":999}');
    live.onLogLine('{"_aws": not json');
    live.onProgress(progress());
    expect(live.snapshot()).toEqual({
      inlineInFlight: 0,
      workersInFlight: 3,
      socketsInFlight: 40,
      done: 168 + 28 + 2,
      failed: 2 + 1,
      // Visible and delayed messages, times tasks per message: in-flight messages are being worked on.
      queued: (4 + 1) * 25,
    });
    expect(live.inlineSource).toBe('runtime');
  });

  it('before the first sample says nobody counted inline tasks, or takes them from the fallback', () => {
    expect(new LiveProgress({ tasksPerMessage: 1 }).inlineSource).toBe('none');
  });

  it('takes inline tasks in flight from the runtime once it samples, from the fallback before', () => {
    let atTarget = 7;
    const live = new LiveProgress({ tasksPerMessage: 1, inlineFallback: () => atTarget });
    expect(live.snapshot().inlineInFlight).toBe(7);
    expect(live.inlineSource).toBe('target');
    atTarget = 2;
    expect(live.snapshot().inlineInFlight).toBe(2);
    live.onProgress(progress({ inlineInFlight: 11 }));
    expect(live.snapshot().inlineInFlight).toBe(11);
    expect(live.inlineSource).toBe('runtime');
  });
});

describe('retryJobId', () => {
  it('numbers the retries of a job', () => {
    expect(retryJobId('nightly')).toBe('nightly-retry1');
    expect(retryJobId('nightly-retry1')).toBe('nightly-retry2');
    expect(retryJobId('nightly-retry9')).toBe('nightly-retry10');
    expect(retryJobId('x'.repeat(128))).toHaveLength(128);
  });
});
