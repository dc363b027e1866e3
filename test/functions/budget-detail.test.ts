// A failure budget the orchestrator trips on its own inline outcomes: the run is failed at once, so the workers
// stop starting its queued tasks while the orchestrator's slow inline tasks still run (before, the record turned
// failed only at the segment's end, and the workers ran every queued task meanwhile); and its `detail` names the
// counts it tripped on, as one a worker's settle trips does (lib/ledger/after-settle.ts budgetDetail): the
// record, `status` and the Run Finished event say why the run failed, not only that it did. Through the real
// handlers on the emulators, a 127.0.0.1 target failing some tasks for good (400) and holding others until the
// test lets them go, the event read off the test's bus.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { Edge } from '../../local/edge.js';
import {
  drainQueue,
  fakeContext,
  type Harness,
  quietPowertools,
  sqsEvent,
  startEventBus,
  startHarness,
} from './harness.js';
import { counts } from './run-outcome.js';

quietPowertools();

let h: Harness;
let server: CountingServer;
let events: Edge;
let runtime: FunctionRuntime;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
let worker: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

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
  const { createWorkerHandler } = await import('../../functions/worker.js');
  worker = createWorkerHandler(() => runtime) as typeof worker;
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

  it('fails the run at once: the workers start none of its queued tasks while its slow inline tasks run', async () => {
    const jobId = 'budget-at-once';
    const target = await heldTarget();
    try {
      // 20 queued tasks (sent first), then four inline tasks at once: one fails for good, three are held.
      const queued = Array.from({ length: 20 }, (_, i) => ({
        id: `q${i}`,
        url: `${target.url}/ok/q${i}`,
        mode: 'queue',
      }));
      const inline = [
        { id: 'i0', url: `${target.url}/fail/i0`, mode: 'inline' },
        ...[1, 2, 3].map((i) => ({ id: `i${i}`, url: `${target.url}/held/i${i}`, mode: 'inline' })),
      ];
      const limits = { inline: 4, tasksPerMessage: 5 };
      const tasks = [...queued, ...inline];
      const run = orchestrator(
        { jobId, runId: 'r1', toleratedFailurePercent: 10, limits, tasks },
        fakeContext(),
      );
      const ledger = runtime.ledger!;
      let record = await ledger.getRun(jobId, 'r1');
      for (let i = 0; i < 200 && record?.status !== 'failed'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        record = await ledger.getRun(jobId, 'r1');
      }
      // The three held inline tasks are still in flight: the segment has not ended, the run has failed.
      expect(target.paths().filter((p) => p.startsWith('/held/'))).toHaveLength(3);
      expect(record).toMatchObject({ status: 'failed', reason: 'failure-budget' });
      const messages = await drainQueue(h.sqs, h.resources.queueUrl);
      expect(messages).toHaveLength(4);
      await worker(sqsEvent(messages), fakeContext());
      expect(target.paths().filter((p) => p.startsWith('/ok/'))).toEqual([]);
      target.release();
      await run;
      const ended = await ledger.getRun(jobId, 'r1');
      expect(ended).toMatchObject({ status: 'failed', reason: 'failure-budget' });
      expect(ended?.finishedAt).toBeGreaterThan(0);
      expect(counts(ended)).toEqual({
        submitted: 24,
        succeeded: 3,
        deadLettered: 1,
        undeliverable: 0,
        invalid: 0,
        cancelled: 20,
      });
    } finally {
      target.release();
      await target.close();
    }
  });
});

/** A 127.0.0.1 target: `/fail/` answers 400, `/held/` waits for release(), anything else 200. */
async function heldTarget() {
  const paths: string[] = [];
  const waiting: ServerResponse[] = [];
  let released = false;
  const server = createServer((req, res) => {
    req.resume();
    const path = req.url ?? '';
    paths.push(path);
    if (path.startsWith('/fail/')) res.writeHead(400).end('no');
    else if (path.startsWith('/held/') && !released) waiting.push(res);
    else res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths: () => [...paths],
    release: () => {
      released = true;
      for (const res of waiting.splice(0)) res.end('ok');
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
