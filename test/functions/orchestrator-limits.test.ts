import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { RunLimits } from '../../lib/ledger/run-record.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { orchestratorContainers } from './orchestrator-containers.js';

// A run's inlineConcurrency override that the store took unchecked (JobLedgerTable.setLimits is the library's
// own API; `bounded-fanout limits` checks its values, the store does not), reaching a running orchestrator
// segment: through the real orchestrator handler, the run's record in the real job table, and a real HTTP
// target on 127.0.0.1 that counts what is in flight when each request arrives. The worker ignores an override
// below 1 (functions/invocation-permits.ts); the orchestrator must not stop on one either.

quietPowertools();

const JOB_LIMIT = 3;

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
const containers = orchestratorContainers(() => h);
const arrivals: number[] = [];
let onRequest: () => void = () => {};

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 5 });
  server.script((req) => {
    arrivals.push(server.tally.inFlight);
    onRequest();
    return req.path.includes('/slow/') ? { delayMs: 2_500 } : undefined;
  });
  h = await startHarness({ inlineConcurrency: 8, idempotency: 'off' });
  ({ runtime: runtime, orchestrator } = await containers.container());
});

afterAll(async () => {
  await containers.destroy();
  await server?.close();
  h?.destroy();
});

/** Slow inline tasks first (longer than the 2 s the record is cached), then fast ones started after the read. */
const inline = (prefix: string) => [
  ...Array.from({ length: JOB_LIMIT }, (_, i) => ({
    id: `${prefix}s${i}`,
    url: `${server.url}/slow/${prefix}s${i}`,
    mode: 'inline',
  })),
  ...Array.from({ length: 12 }, (_, i) => ({
    id: `${prefix}f${i}`,
    url: `${server.url}/${prefix}f${i}`,
    mode: 'inline',
  })),
];

describe('an unusable inlineConcurrency override in a running orchestrator segment', () => {
  const hostile: [string, unknown][] = [
    ['0', 0],
    ['a fraction', 2.5],
    ['a string', '1'],
  ];
  it.each(hostile)(
    '%s never stops the segment: every task runs once under the job limit and the run succeeds',
    async (_, value) => {
      const jobId = `olim-${String(value).replace('.', '-')}`;
      const tasks = inline(jobId);
      arrivals.length = 0;
      server.tally.reset();
      let set: Promise<unknown> | undefined;
      onRequest = () => {
        set ??= runtime.ledger!.setLimits(jobId, 'r1', { inlineConcurrency: value } as unknown as RunLimits);
      };
      const result = await orchestrator(
        { jobId, runId: 'r1', limits: { inline: JOB_LIMIT }, tasks },
        fakeContext(),
      ).finally(() => {
        onRequest = () => {};
      });
      await set;
      expect(result).toMatchObject({
        status: 'succeeded',
        summary: { counts: { read: tasks.length, inlineSucceeded: tasks.length } },
      });
      expect(server.tally.requests).toBe(tasks.length);
      expect(server.tally.peakInFlight).toBeLessThanOrEqual(JOB_LIMIT);
      expect(await runtime.ledger!.getRun(jobId, 'r1')).toMatchObject({
        status: 'succeeded',
        submitted: tasks.length,
        succeeded: tasks.length,
        limits: { inlineConcurrency: value },
      });
    },
  );
});
