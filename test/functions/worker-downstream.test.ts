import { performance } from 'node:perf_hooks';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, type FanoutConfig, withDefaults } from '../../lib/config.js';
import { fleetShare } from '../../lib/downstream/host-limits.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

// config.downstream reaching the functions: the worker (SQS batches and direct invokes) and the
// orchestrator's inline tasks hold each declared host to their container's share, counted on the side of
// real HTTP servers on 127.0.0.1, with the embedded fauxqs and dynalite behind the handlers.
//
// The fleet here: workerMaxConcurrency 2 + invokeConcurrency 1 x 1 orchestrator = 3 worker instances, plus
// the orchestrator: 4 processes, each with 1/4 of every declared host's limits.

quietPowertools();

const PER_INVOCATION = 12;
const PROCESSES = 4;
const CAP = 12; // maxConcurrency of the capped hosts: 3 per process
const SHARE = CAP / PROCESSES;
const RATE = 120; // maxRequestsPerSecond of the rated host: 30/s per process
const RATE_SHARE = RATE / PROCESSES;
const BURST = Math.ceil(RATE_SHARE / 10); // each process's bucket: a tenth of a second's worth

let h: Harness;
/** Declared, maxConcurrency 12; answers held until 3 are in flight, so the share is reached, not just kept. */
let capped: CountingServer;
/** Declared, maxConcurrency 12; answers held until 12 are in flight: the whole fleet's cap. */
let fleetCapped: CountingServer;
/** Declared, maxRequestsPerSecond 120; records when each request arrives. */
let rated: CountingServer;
/** Not declared: bounded by perInvocationConcurrency alone, as before the policy. */
let open: CountingServer;
const arrivals: number[] = [];
const runtimes: FunctionRuntime[] = [];
let createRuntime: typeof import('../../functions/runtime.js').createRuntime;
let createWorkerHandler: typeof import('../../functions/worker.js').createWorkerHandler;
let createOrchestratorHandler: typeof import('../../functions/orchestrator.js').createOrchestratorHandler;
let seq = 0;

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  [capped, fleetCapped, rated, open] = await Promise.all([
    startCountingServer({ delayMs: 10, holdUntil: SHARE, holdMaxMs: 100 }),
    startCountingServer({ delayMs: 10, holdUntil: CAP, holdMaxMs: 200 }),
    startCountingServer({ delayMs: 2 }),
    startCountingServer({ delayMs: 10, holdUntil: PER_INVOCATION, holdMaxMs: 100 }),
  ]);
  rated.script(() => {
    arrivals.push(performance.now());
    return undefined;
  });
  h = await startHarness({
    perInvocationConcurrency: PER_INVOCATION,
    inlineConcurrency: PER_INVOCATION,
    workerMaxConcurrency: 2,
    invokeConcurrency: 1,
    orchestratorReservedConcurrency: 1,
    workerReservedConcurrency: 3,
    downstream: {
      [`127.0.0.1:${capped.port}`]: { maxConcurrency: CAP },
      [`127.0.0.1:${fleetCapped.port}`]: { maxConcurrency: CAP },
      [`127.0.0.1:${rated.port}`]: { maxRequestsPerSecond: RATE },
    },
  });
  ({ createRuntime } = await import('../../functions/runtime.js'));
  ({ createWorkerHandler } = await import('../../functions/worker.js'));
  ({ createOrchestratorHandler } = await import('../../functions/orchestrator.js'));
});

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy()));
  await Promise.all([capped, fleetCapped, rated, open].map((s) => s?.close()));
  h?.destroy();
});

/** A container: its own runtime, so its own downstream policy, as each Lambda instance has. */
function container(overrides: Partial<FanoutConfig> = {}): FunctionRuntime {
  const config = { ...JSON.parse(h.env[EnvVars.CONFIG]!), ...overrides };
  const rt = createRuntime({ ...h.env, [EnvVars.CONFIG]: JSON.stringify(config) });
  runtimes.push(rt);
  return rt;
}

const worker = (rt: FunctionRuntime) => createWorkerHandler(() => rt) as Handler;

function taskMessage(tasks: readonly JobTask[]): TaskMessage {
  return {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'djob',
    runId: 'run1',
    key: `djob:run1:${seq++}`,
    attempt: 1,
    tasks,
  };
}

const tasksTo = (
  server: CountingServer,
  prefix: string,
  n: number,
  mode: JobTask['mode'] = 'queue',
): JobTask[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, url: `${server.url}/${prefix}${i}`, mode }));

const hits = (server: CountingServer, prefix: string) =>
  server.requests.filter((r) => r.path.startsWith(`/${prefix}`)).length;

async function receive(messages: readonly TaskMessage[]) {
  const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  const Entries = messages.map((m, i) => ({ Id: String(i), MessageBody: JSON.stringify(m) }));
  await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries }));
  const received = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(received).toHaveLength(messages.length);
  return received;
}

/**
 * The most requests any stretch of arrivals holds beyond what `perSecond` allows over that stretch:
 * max over i <= j of (j - i + 1) - perSecond x (t[j] - t[i]). A token bucket keeps it within its burst.
 */
function excessOverRate(times: readonly number[], perSecond: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      worst = Math.max(worst, j - i + 1 - (perSecond * (sorted[j] - sorted[i])) / 1000);
    }
  }
  return worst;
}

/** Slack for the loopback and a shared machine: a tenth of a second's worth more, plus one. */
const slack = (perSecond: number) => (perSecond * 100) / 1000 + 1;

describe('config.downstream in the worker', () => {
  it('builds the policy once per container from the config: the share of 4 processes', () => {
    const rt = container();
    expect(fleetShare(rt.config)).toBe(1 / PROCESSES);
    const policy = rt.downstream!;
    expect(policy.limitsOf(`127.0.0.1:${capped.port}`).maxConcurrency).toBe(SHARE);
    expect(policy.limitsOf(`127.0.0.1:${rated.port}`)).toMatchObject({
      maxRequestsPerSecond: RATE_SHARE,
      burst: BURST,
    });
    // A host the map does not name has no limits of the policy.
    expect(policy.limitsOf(`127.0.0.1:${open.port}`).maxConcurrency).toBe(Number.POSITIVE_INFINITY);
  });

  it('holds a declared host to its share across a whole SQS batch, while perInvocationConcurrency is larger', async () => {
    const handler = worker(container());
    const messages = Array.from({ length: 4 }, (_, m) => taskMessage(tasksTo(capped, `c${m}-`, 10)));
    capped.tally.reset();
    const response = (await handler(sqsEvent(await receive(messages)), fakeContext())) as SQSBatchResponse;
    expect(response.batchItemFailures).toEqual([]);
    // Counted on the server: never above 12 / 4 = 3, and 3 is reached.
    expect(capped.tally.peakInFlight).toBe(SHARE);
    for (let m = 0; m < 4; m++) expect(hits(capped, `c${m}-`)).toBe(10);
    // Nothing failed, so nothing was re-sent or dead-lettered.
    expect(await drainQueue(h.sqs, h.resources.queueUrl)).toHaveLength(0);
  });

  it('leaves a host the map does not name as it was: perInvocationConcurrency bounds it, and is reached', async () => {
    const handler = worker(container());
    const messages = Array.from({ length: 4 }, (_, m) => taskMessage(tasksTo(open, `o${m}-`, 10)));
    open.tally.reset();
    const response = (await handler(sqsEvent(await receive(messages)), fakeContext())) as SQSBatchResponse;
    expect(response.batchItemFailures).toEqual([]);
    expect(open.tally.peakInFlight).toBe(PER_INVOCATION);
    for (let m = 0; m < 4; m++) expect(hits(open, `o${m}-`)).toBe(10);
  });

  it("holds the orchestrator's inline tasks to the same share", async () => {
    const rt = container();
    const orchestrator = createOrchestratorHandler(() => rt);
    capped.tally.reset();
    const result = (await orchestrator(
      { jobId: 'inline-capped', tasks: tasksTo(capped, 'in', 20, 'inline') },
      fakeContext(),
    )) as OrchestratorResult;
    expect(result.status).toBe('succeeded');
    if (result.status !== 'succeeded') return;
    expect(result.summary.counts.inlineSucceeded).toBe(20);
    expect(capped.tally.peakInFlight).toBe(SHARE);
    expect(hits(capped, 'in')).toBe(20);
  });

  it('keeps the fleet within maxConcurrency: 3 worker instances and the orchestrator at once', async () => {
    const workers = [container(), container(), container()].map(worker);
    const rt = container();
    const orchestrator = createOrchestratorHandler(() => rt);
    fleetCapped.tally.reset();
    const [orchestrated, ...invoked] = await Promise.all([
      orchestrator({ jobId: 'fleet', tasks: tasksTo(fleetCapped, 'fo', 15, 'inline') }, fakeContext()),
      ...workers.map((w, i) => w(taskMessage(tasksTo(fleetCapped, `fw${i}-`, 15)), fakeContext())),
    ]);
    expect((orchestrated as OrchestratorResult).status).toBe('succeeded');
    for (const out of invoked as { results: { ok: boolean }[] }[]) {
      expect(out.results.map((r) => r.ok)).toEqual(Array(15).fill(true));
    }
    // Four processes of 3 each: the host sees at most its 12 (and, held until 12 are in flight, reaches it).
    expect(fleetCapped.tally.peakInFlight).toBeLessThanOrEqual(CAP);
    expect(fleetCapped.tally.peakInFlight).toBeGreaterThan(SHARE);
    expect(fleetCapped.tally.requests).toBe(60);
  });

  // The rate tests run without idempotency records, so that nothing but the policy slows the requests:
  // unlimited, these invocations send their tasks in a few ms.
  it("holds a rated host to one process's share of the rate: 30/s from one invocation", async () => {
    const handler = worker(container({ idempotency: 'off' }));
    arrivals.length = 0;
    const out = (await handler(taskMessage(tasksTo(rated, 'r', 40)), fakeContext())) as {
      results: { ok: boolean }[];
    };
    expect(out.results.every((r) => r.ok)).toBe(true);
    expect(arrivals).toHaveLength(40);
    // In any stretch of arrivals at most 30/s x its length + the burst of 3 (plus slack): 40 requests
    // that 12 slots would send in a few ms are spread over more than a second.
    expect(excessOverRate(arrivals, RATE_SHARE)).toBeLessThanOrEqual(BURST + slack(RATE_SHARE));
  });

  it('holds the fleet to the host rate: 4 worker instances at once, 30/s each', async () => {
    const workers = Array.from({ length: PROCESSES }, () => worker(container({ idempotency: 'off' })));
    arrivals.length = 0;
    const outs = (await Promise.all(
      workers.map((w, i) => w(taskMessage(tasksTo(rated, `rf${i}-`, 24)), fakeContext())),
    )) as { results: { ok: boolean }[] }[];
    expect(outs.flatMap((o) => o.results).every((r) => r.ok)).toBe(true);
    expect(arrivals).toHaveLength(PROCESSES * 24);
    // The host's 120/s, with each process's burst of 3 at the start: 12.
    expect(excessOverRate(arrivals, RATE)).toBeLessThanOrEqual(PROCESSES * BURST + slack(RATE));
  });

  it('refuses a bad downstream entry when the container starts, naming the host and the field', () => {
    const config = withDefaults({ downstream: { 'api.example.com': { maxConcurrency: 0 } } });
    expect(() =>
      createRuntime({ ...h.env, BOUNDED_FANOUT_CONFIG: JSON.stringify({ ...config, allowHosts: [] }) }),
    ).toThrow(
      'BOUNDED_FANOUT_CONFIG: Invalid concurrency budget (1 problem):\n  - downstream["api.example.com"].maxConcurrency: 0 is below 1',
    );
  });
});
