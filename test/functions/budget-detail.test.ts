// A failure budget the orchestrator trips on its own inline outcomes names the counts it tripped on in the
// run's `detail`, as one a worker's settle trips does (lib/ledger/after-settle.ts budgetDetail): the record,
// `status` and the Run Finished event say why the run failed, not only that it did. Through the real handler
// on the emulators, a 127.0.0.1 target failing some tasks for good (400), the event read off the test's bus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { Edge } from '../../local/edge.js';
import { fakeContext, type Harness, quietPowertools, startEventBus, startHarness } from './harness.js';

quietPowertools();

let h: Harness;
let server: CountingServer;
let events: Edge;
let runtime: FunctionRuntime;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;

beforeAll(async () => {
  server = await startCountingServer({
    script: (r) => (r.path.startsWith('/fail/') ? { status: 400 } : undefined),
  });
  h = await startHarness({});
  events = await startEventBus(h);
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  orchestrator = createOrchestratorHandler(() => runtime);
});

afterAll(async () => {
  await runtime?.destroy();
  await events?.close();
  await server?.close();
  h?.destroy();
});

describe('a failure budget the orchestrator trips', () => {
  it('names the counts it tripped on in the record and the Run Finished event', async () => {
    // One inline task at a time, the first three failing for good: the first failure trips 10% at once.
    const tasks = Array.from({ length: 12 }, (_, i) => ({
      id: `d${i}`,
      url: `${server.url}/${i < 3 ? 'fail' : 'ok'}/d${i}`,
      mode: 'inline',
    }));
    const input = {
      jobId: 'budget-detail',
      runId: 'r1',
      toleratedFailurePercent: 10,
      limits: { inline: 1 },
      tasks,
    };
    const result = await orchestrator(input, fakeContext());
    expect(result).toMatchObject({ summary: { reason: 'failure-budget' } });
    const record = await runtime.ledger!.getRun('budget-detail', 'r1');
    expect(record).toMatchObject({ status: 'failed', reason: 'failure-budget' });
    expect(record?.finishedAt).toBeGreaterThan(0);
    // The figures are those it tripped on: every one failed, more than the share tolerated.
    const figures = /^(\d+) of (\d+) finished tasks failed, more than the 10% tolerated$/.exec(
      record?.detail ?? '',
    );
    expect(figures).not.toBeNull();
    const [failed, finished] = [Number(figures?.[1]), Number(figures?.[2])];
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(failed * 100).toBeGreaterThan(10 * finished);
    expect(failed).toBeLessThanOrEqual(record?.deadLettered ?? 0);
    const finishedEvents = events.eventBus.events.filter(
      (e) => (e.detail as { jobId?: string }).jobId === 'budget-detail',
    );
    expect(finishedEvents.map((e) => e.detail)).toEqual([
      expect.objectContaining({ status: 'failed', reason: 'failure-budget', detail: record?.detail }),
    ]);
  });
});
