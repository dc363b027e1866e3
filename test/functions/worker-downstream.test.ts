import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, type FanoutConfig, withDefaults } from '../../lib/config.js';
import { createDownstream } from '../../lib/downstream/downstream-policy.js';
import { fleetShare } from '../../lib/downstream/host-limits.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import { RUN_CONTROL_MAX_AGE_MS } from '../../lib/ledger/run-control.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { countsByStep } from '../helpers/settled-count.js';
import { FakeClock } from '../lib/downstream/fake-clock.js';
import {
  drainQueue,
  fakeContext,
  type Harness,
  quietPowertools,
  sqsEvent,
  startHarness,
  watchRecordRead,
} from './harness.js';

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
/** Declared, maxRequestsPerSecond 120. */
let rated: CountingServer;
/** Not declared: bounded by perInvocationConcurrency alone, as before the policy. */
let open: CountingServer;
/** Declared, maxConcurrency 12, no hold: `/slow` paths answer after 3 s. The orchestrator's override test. */
let overridden: CountingServer;
const runtimes: FunctionRuntime[] = [];
let createRuntime: typeof import('../../functions/runtime.js').createRuntime;
let createWorkerHandler: typeof import('../../functions/worker.js').createWorkerHandler;
let createOrchestratorHandler: typeof import('../../functions/orchestrator.js').createOrchestratorHandler;
let seq = 0;

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  [capped, fleetCapped, rated, open] = await Promise.all([
    // A hold ends when the count is reached, or after holdMaxMs for the tail of a run: a long one, so that a
    // loaded machine, slow to send the next requests, cannot end a hold before the count is reached.
    startCountingServer({ delayMs: 10, holdUntil: SHARE, holdMaxMs: 1_000 }),
    startCountingServer({ delayMs: 10, holdUntil: CAP, holdMaxMs: 1_000 }),
    startCountingServer({ delayMs: 2 }),
    startCountingServer({ delayMs: 10, holdUntil: PER_INVOCATION, holdMaxMs: 1_000 }),
  ]);
  overridden = await startCountingServer({ delayMs: 20 });
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
      [`127.0.0.1:${overridden.port}`]: { maxConcurrency: CAP },
    },
  });
  ({ createRuntime } = await import('../../functions/runtime.js'));
  ({ createWorkerHandler } = await import('../../functions/worker.js'));
  ({ createOrchestratorHandler } = await import('../../functions/orchestrator.js'));
});

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy()));
  await Promise.all([capped, fleetCapped, rated, open, overridden].map((s) => s?.close()));
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
 * A container whose downstream policy runs on `clock`: built from the container's own config and fleet share
 * as createRuntime builds it, so the rated host's bucket fills only when the test moves time.
 */
function clockedContainer(clock: FakeClock, overrides: Partial<FanoutConfig> = {}): FunctionRuntime {
  const rt = container(overrides);
  return {
    ...rt,
    downstream: createDownstream(rt.config.downstream, { share: fleetShare(rt.config), clock }),
  };
}

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

  // The rate tests run without idempotency records, so that nothing but the policy holds the requests, and
  // on a fake clock: a bucket refills only when the test moves time, so the counts are exact.
  it("holds a rated host to one process's share of the rate: 30/s from one invocation", async () => {
    const clock = new FakeClock();
    const handler = worker(clockedContainer(clock, { idempotency: 'off' }));
    const done = handler(taskMessage(tasksTo(rated, 'r', 40)), fakeContext()) as Promise<{
      results: { ok: boolean }[];
    }>;
    // The burst of 3 at once, then 3 per 100 ms (30/s), until the 40 are sent.
    const expected = Array.from({ length: 14 }, (_, k) => Math.min(40, BURST + 3 * k));
    expect(await countsByStep(clock, () => hits(rated, 'r'), expected, 100)).toEqual(expected);
    const out = await done;
    expect(out.results.map((r) => r.ok)).toEqual(Array(40).fill(true));
  });

  it('holds the fleet to the host rate: 4 worker instances at once, 30/s each', async () => {
    const clock = new FakeClock();
    const workers = Array.from({ length: PROCESSES }, () =>
      worker(clockedContainer(clock, { idempotency: 'off' })),
    );
    const done = Promise.all(
      workers.map((w, i) => w(taskMessage(tasksTo(rated, `rf${i}-`, 24)), fakeContext())),
    ) as Promise<{ results: { ok: boolean }[] }[]>;
    // Each process's burst of 3 (12 at once), then 12 per 100 ms: the host's 120/s, never more.
    const expected = Array.from({ length: 8 }, (_, k) => PROCESSES * BURST + 12 * k);
    expect(await countsByStep(clock, () => hits(rated, 'rf'), expected, 100)).toEqual(expected);
    for (let i = 0; i < PROCESSES; i++) expect(hits(rated, `rf${i}-`)).toBe(24);
    const outs = await done;
    expect(outs.flatMap((o) => o.results).every((r) => r.ok)).toBe(true);
  });

  /** A fresh worker container and a run of job `djob` started in its ledger (overlap allow: runs never skip). */
  async function runningContainer(runId: string) {
    const rt = container();
    const ledger = rt.ledger!;
    const startedAt = Date.now();
    await ledger.startRun({
      jobId: 'djob',
      runId,
      startedAt,
      toleratedFailurePercent: 100,
      overlap: 'allow',
    });
    return { rt, handler: worker(rt), ledger, runId };
  }

  it("a running worker container picks up a run's host maxConcurrency override: tasks after it stay under the new share", async () => {
    // One container, three batches of one run. The override (fleet-wide 4: 1 per process) is set after the
    // first batch; the second may still run on the container's cached record (read under 2 s ago); the test
    // then waits out that cache (a settle that cannot end the run does not read the record back, so only its
    // age brings the override), and the third runs under it. Counted at the target.
    const { rt, handler, ledger, runId } = await runningContainer('override-run');
    const batch = async (prefix: string, n: number) => {
      const message = { ...taskMessage(tasksTo(capped, prefix, n)), runId };
      capped.tally.reset();
      const response = (await handler(sqsEvent(await receive([message])), fakeContext())) as SQSBatchResponse;
      expect(response.batchItemFailures).toEqual([]);
      expect(hits(capped, prefix)).toBe(n);
      return capped.tally.peakInFlight;
    };
    expect(await batch('ov1-', 9)).toBe(SHARE);
    const host = `127.0.0.1:${capped.port}`;
    await ledger.setLimits('djob', runId, { downstream: { [host]: { maxConcurrency: PROCESSES } } });
    // Its peak depends on whether the cached record had aged 2 s (a loaded machine): not asserted.
    await batch('ov2-', 9);
    await sleep(RUN_CONTROL_MAX_AGE_MS + 100);
    // The answers are held until 3 are in flight or 1 s has passed: three tasks, one at a time.
    expect(await batch('ov3-', 3)).toBe(1);
    expect(rt.downstream!.limitsOf(host).maxConcurrency).toBe(1);
    expect(await ledger.getRun('djob', runId)).toMatchObject({
      succeeded: 21,
      limits: { downstream: { [host]: { maxConcurrency: PROCESSES } } },
    });
  });

  it("a running worker container holds an adaptive host to a run's maxConcurrency override: its AIMD limit under it", async () => {
    // The capped host declared `adaptive: true` in this container: its concurrency an AIMD limit whose ceiling is
    // the share (3). Before, a run's override left it untouched: the limiter took the AIMD limit whatever the
    // override, so the batch after it still reached 3 in flight, the override written and said done.
    const host = `127.0.0.1:${capped.port}`;
    const rt = container({
      downstream: { ...h.config.downstream, [host]: { maxConcurrency: CAP, adaptive: true } },
    });
    const handler = worker(rt);
    const runId = 'adaptive-override-run';
    await rt.ledger!.startRun({
      jobId: 'djob',
      runId,
      startedAt: Date.now(),
      toleratedFailurePercent: 100,
      overlap: 'allow',
    });
    const batch = async (prefix: string, n: number) => {
      const message = { ...taskMessage(tasksTo(capped, prefix, n)), runId };
      capped.tally.reset();
      const response = (await handler(sqsEvent(await receive([message])), fakeContext())) as SQSBatchResponse;
      expect(response.batchItemFailures).toEqual([]);
      expect(hits(capped, prefix)).toBe(n);
      return capped.tally.peakInFlight;
    };
    expect(await batch('ad1-', 9)).toBe(SHARE);
    await rt.ledger!.setLimits('djob', runId, { downstream: { [host]: { maxConcurrency: PROCESSES } } });
    await sleep(RUN_CONTROL_MAX_AGE_MS + 100);
    // The answers are held until 3 are in flight or 1 s has passed: three tasks, one at a time.
    expect(await batch('ad2-', 3)).toBe(1);
    expect(rt.downstream!.limitsOf(host).maxConcurrency).toBe(1);
  });

  it("a running worker container picks up a run's host maxRequestsPerSecond override: its policy holds the new share", async () => {
    // As above, for the rate: the override (fleet-wide 40/s: 10/s per process) set after the first batch; these
    // batches are quick, so the test waits out the container's 2 s record cache before the next one.
    const { rt, handler, ledger, runId } = await runningContainer('rate-override-run');
    const host = `127.0.0.1:${rated.port}`;
    const batch = async (prefix: string) => {
      const message = { ...taskMessage(tasksTo(rated, prefix, 3)), runId };
      const response = (await handler(sqsEvent(await receive([message])), fakeContext())) as SQSBatchResponse;
      expect(response.batchItemFailures).toEqual([]);
      expect(hits(rated, prefix)).toBe(3);
    };
    await batch('rv1-');
    expect(rt.downstream!.limitsOf(host).maxRequestsPerSecond).toBe(RATE_SHARE);
    await ledger.setLimits('djob', runId, { downstream: { [host]: { maxRequestsPerSecond: 40 } } });
    await sleep(RUN_CONTROL_MAX_AGE_MS + 100);
    await batch('rv2-');
    expect(rt.downstream!.limitsOf(host).maxRequestsPerSecond).toBe(40 / PROCESSES);
    // Back to the declared rate when the run's override goes.
    await ledger.setLimits('djob', runId, {});
    await sleep(RUN_CONTROL_MAX_AGE_MS + 100);
    await batch('rv3-');
    expect(rt.downstream!.limitsOf(host).maxRequestsPerSecond).toBe(RATE_SHARE);
  });

  it("a running orchestrator picks up a run's host maxConcurrency override: inline tasks started after it stay under the new share", async () => {
    // Three slow inline tasks (3 s, longer than the 2 s the orchestrator caches the record) hold the host's
    // share of 3; fast ones wait behind them. The override (fleet-wide 4: 1 per process) is set with the first
    // request; the orchestrator's reads of the record are watched, and from the one that brings the override
    // every request the host gets finds no other in flight. The share's 3, and the one admitted as the
    // override lands, may still be on their way when it does.
    const rt = container();
    const orchestrator = createOrchestratorHandler(() => rt);
    const host = `127.0.0.1:${overridden.port}`;
    const jobId = 'inline-override';
    const tasks = [
      ...Array.from({ length: SHARE }, (_, i) => ({
        id: `hs${i}`,
        url: `${overridden.url}/slow/hs${i}`,
        mode: 'inline' as const,
      })),
      ...tasksTo(overridden, 'hf', 40, 'inline'),
    ];
    const inFlightAtArrival: number[] = [];
    const seenAt = watchRecordRead(
      rt.aws.dynamodb,
      [jobId, 'maxConcurrency'],
      () => inFlightAtArrival.length,
      'hostOverrideWatch',
    );
    let lowered: Promise<unknown> | undefined;
    overridden.script((req) => {
      inFlightAtArrival.push(overridden.tally.inFlight);
      lowered ??= rt.ledger!.setLimits(jobId, 'r1', {
        downstream: { [host]: { maxConcurrency: PROCESSES } },
      });
      return req.path.startsWith('/slow/') ? { delayMs: 3_000 } : undefined;
    });
    let result: OrchestratorResult;
    try {
      result = (await orchestrator({ jobId, runId: 'r1', tasks }, fakeContext())) as OrchestratorResult;
    } finally {
      overridden.script(undefined);
    }
    await lowered;
    expect(result).toMatchObject({
      status: 'succeeded',
      summary: { counts: { read: 43, inlineSucceeded: 43 } },
    });
    // The declared share first: the three slow ones together.
    expect(inFlightAtArrival.slice(0, SHARE)).toEqual([1, 2, 3]);
    expect(seenAt()).toBeGreaterThanOrEqual(SHARE);
    const after = inFlightAtArrival.slice(seenAt() + SHARE + 1);
    // Enough after it to tell (how many ran before it lands depends on the machine's load).
    expect(after.length).toBeGreaterThanOrEqual(10);
    expect(after).toEqual(Array(after.length).fill(1));
    expect(rt.downstream!.limitsOf(host).maxConcurrency).toBe(1);
    expect(overridden.requests).toHaveLength(43);
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
