// A made-up report with the shape of a real run, for the report writers' own tests (the real demo's report is
// checked end to end in test/local/cli/run.test.ts).
import { LatencyHistogram } from '../../../local/report/latency.js';
import type { RunReport, TimelineSample } from '../../../local/report/types.js';

export function fixtureReport(overrides: Partial<RunReport> = {}): RunReport {
  const timeline: TimelineSample[] = [];
  for (let i = 0; i <= 40; i++) {
    const done = Math.min(1000, i * 30);
    timeline.push({
      t: i * 250,
      inlineInFlight: i < 35 ? Math.min(8, i) : 0,
      workersInFlight: i < 38 ? Math.min(4, i) : 0,
      socketsInFlight: i < 38 ? Math.min(16, i * 2) : 0,
      done,
      failed: Math.min(20, i),
      queued: Math.max(0, 1000 - done),
    });
  }
  const latency = new LatencyHistogram();
  for (let i = 0; i < 1000; i++) latency.record(5 + ((i * 37) % 200));
  return {
    jobId: 'fixture',
    submitted: 1023,
    invalid: 3,
    succeeded: 1000,
    deadLettered: 20,
    durationMs: 10_000,
    peaks: { inline: 8, workers: 4, sockets: 16 },
    limits: {
      inline: 8,
      workers: 4,
      sockets: 16,
      perInvocation: 4,
      socketsPerHost: 16,
      tasksPerMessage: 10,
      maxReceiveCount: 3,
    },
    invalidTasks: [
      { line: 7, id: 'bad-1', error: 'url: is required' },
      { line: 9, error: 'task: <script>alert(1)</script> is not an object' },
      { line: 12, id: 'bad-3', error: 'method: "FETCH" is not one of GET, HEAD' },
    ],
    deadLetteredTasks: Array.from({ length: 20 }, (_, i) => ({
      id: `task-${i}`,
      attempts: 3,
      error: i % 2 ? 'HTTP 500' : 'HTTP 404 & <gone>',
    })),
    timeline,
    latency: latency.toJSON(),
    manifest: 'demo',
    ...overrides,
  };
}
