import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, IdempotencyModes } from '../../lib/config.js';
import type { TaskMessage } from '../../lib/fanout/messages.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { settleKey } from '../../lib/ledger/ledger-keys.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';
import { counts } from './run-outcome.js';

// A pause while an invoke chunk runs, through the real handlers: the orchestrator invokes the real worker
// behind the local Invoke endpoint (RequestResponse), against the backend's queue, DLQ and tables, and a
// real HTTP target on 127.0.0.1 that counts requests per task. The tasks the pause leaves unstarted are
// neither failures nor dead letters: they go to the work queue, where the worker holds them until the resume.

quietPowertools();

let h: Harness;
let server: CountingServer;
let invoke: InvokeServer;
let runtime: FunctionRuntime;
let ledger: JobLedger;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
type Worker = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;
let worker: Worker;
/** Called when the target receives a request: the test's hook into "while tasks run". */
let onRequest: (path: string) => void = () => {};
/** The job ledger's reads of a `segment:<n>` marker (a GetItem of its key), by the functions' runtime. */
let segmentMarkerReads = 0;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  const answered = new Set<string>();
  server.script((req) => {
    onRequest(req.path);
    // A `/retry/` task's first request: a 503 asking for a wait longer than the worker's copy of the run lives.
    if (req.path.includes('/retry/') && !answered.has(req.path)) {
      answered.add(req.path);
      return { status: 503, headers: { 'retry-after': '3' } };
    }
    return req.path.includes('/slow/') ? { delayMs: 1_500 } : undefined;
  });
  invoke = new InvokeServer({
    functions: [
      new LocalFunction({ name: 'ip-worker', handler: (e, c) => worker(e, c as never), timeoutMs: 60_000 }),
      new LocalFunction({ name: 'ip-orchestrator', handler: () => undefined, timeoutMs: 60_000 }),
    ],
    asyncRetryAttempts: 0,
  });
  const lambda = await invoke.listen();
  h = await startHarness(
    {
      perInvocationConcurrency: 2,
      maxReceiveCount: 3,
      pauseRecheckSeconds: 0,
      idempotency: IdempotencyModes.MESSAGE,
      deadlineMarginMs: 1000,
    },
    { AWS_ENDPOINT_URL_LAMBDA: lambda },
  );
  h.env[EnvVars.WORKER_FUNCTION] = 'ip-worker';
  h.env[EnvVars.ORCHESTRATOR_FUNCTION] = 'ip-orchestrator';
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  worker = createWorkerHandler(() => runtime) as Worker;
  orchestrator = createOrchestratorHandler(() => runtime);
  ledger = runtime.ledger!;
  const count =
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) =>
    (args: { input: unknown }) => {
      const input = JSON.stringify(args.input);
      if (context.commandName === 'GetItemCommand' && input.includes('settle#segment:')) segmentMarkerReads++;
      return next(args);
    };
  runtime.aws.dynamodb.middlewareStack.add(count as never, { step: 'initialize', name: 'countMarkerReads' });
});

afterAll(async () => {
  await invoke?.close();
  await runtime?.destroy();
  await server?.close();
  h?.destroy();
});

const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;

/** Receives what the work queue holds now and hands it to the worker; the task ids it carried. */
async function deliverOnce(): Promise<string[]> {
  const messages = await drainQueue(h.sqs, h.resources.queueUrl);
  for (let j = 0; j < messages.length; j += 10)
    await worker(sqsEvent(messages.slice(j, j + 10)), fakeContext());
  return messages.flatMap((m) => (JSON.parse(m.Body!) as TaskMessage).tasks.map((t) => t.id));
}

/** The orchestrator's result of a run of `tasks`, paused when the target sees its first request. */
async function pausedAtFirstRequest(jobId: string, tasks: readonly object[]) {
  let paused: Promise<unknown> | undefined;
  onRequest = () => {
    paused ??= ledger.setStatus(jobId, 'r1', { status: 'paused', from: ['running'] });
  };
  const result = await orchestrator({ jobId, runId: 'r1', tasks }, fakeContext());
  onRequest = () => {};
  await paused;
  return result;
}

/** A run of one chunk of 8 slow invoke tasks (ids `<prefix>0`..`<prefix>7`), paused at its first request. */
async function chunkPausedAtFirstRequest(jobId: string, prefix: string) {
  const ids = Array.from({ length: 8 }, (_, i) => `${prefix}${i}`);
  const tasks = ids.map((id) => ({ id, url: `${server.url}/slow/${id}`, mode: 'invoke' }));
  return { ids, result: await pausedAtFirstRequest(jobId, tasks) };
}

/** Resumes the run and hands the work queue to the worker until it is empty (at most 10 rounds). */
async function resumeAndDrain(jobId: string): Promise<void> {
  await ledger.setStatus(jobId, 'r1', { status: 'running', from: ['paused'] });
  await new Promise((r) => setTimeout(r, 2_100)); // the worker's cached copy expires (not an assertion)
  for (let round = 0; round < 10 && (await deliverOnce()).length > 0; round++);
}

describe('a pause while an invoke chunk runs', () => {
  it('hands the unstarted tasks to the work queue: none dead-lettered, held while paused, resumed each runs once', async () => {
    const jobId = 'invoke-pause';
    // One chunk of 8 tasks of 1.5 s, two at a time in the worker: the pause lands with the first request;
    // the worker's cached record (2 s) lets the second pair start, and the later ones find the run paused.
    const { ids, result } = await chunkPausedAtFirstRequest(jobId, 'ip');
    expect(result.status).toBe('succeeded');
    if (result.status !== 'succeeded') return;
    const ran = ids.filter((id) => hits(id) === 1);
    const held = ids.filter((id) => hits(id) === 0);
    expect(ran.length + held.length).toBe(8);
    // The pause caught some of the chunk (else this test shows nothing).
    expect(held.length).toBeGreaterThan(0);
    expect(result.summary.counts).toMatchObject({
      read: 8,
      invokeCalls: 1,
      invokeSucceeded: ran.length,
      invokeFailed: 0,
      enqueued: held.length,
      messages: 1,
      deadLettered: 0,
      cancelled: 0,
    });
    expect(counts(result.run)).toEqual({
      submitted: 8,
      succeeded: ran.length,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    expect(result.run).toMatchObject({ status: 'paused', manifestDone: true });
    // Still paused: three deliveries (maxReceiveCount) each hold the handed-on tasks, none runs or dies.
    for (let round = 0; round < 3; round++) expect((await deliverOnce()).sort()).toEqual(held.sort());
    for (const id of held) expect(hits(id)).toBe(0);
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'paused', succeeded: ran.length });

    await resumeAndDrain(jobId);
    for (const id of ids) expect(hits(id)).toBe(1);
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
    const record = await ledger.getRun(jobId, 'r1');
    expect(record?.status).toBe('succeeded');
    expect(record?.finishedAt).toBeGreaterThan(0);
    expect(counts(record)).toEqual({
      submitted: 8,
      succeeded: 8,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });

  it('a pause that outlasts the segment’s marker (its TTL): the held hand-off runs after the resume, the run ends', async () => {
    // The same pause, in a run paused longer than the ledger keeps a settle marker (resultsRetentionDays after
    // the segment's settle; a paused run's record does not expire): DynamoDB's TTL deletes `segment:0`. The
    // hand-off was judged the winner's at its first delivery; what the hold hands on needs no second look.
    const jobId = 'invoke-pause-long';
    const { ids, result } = await chunkPausedAtFirstRequest(jobId, 'il');
    const held = ids.filter((id) => hits(id) === 0);
    expect(held.length).toBeGreaterThan(0);
    expect(result.status).toBe('succeeded');
    segmentMarkerReads = 0;
    for (let round = 0; round < 3; round++) expect((await deliverOnce()).sort()).toEqual(held.sort());
    // One look at the marker, at the hand-off's first delivery: its holds are the winner's already.
    expect(segmentMarkerReads).toBe(1);

    const { pk, sk } = settleKey(jobId, 'r1', 'segment:0');
    const TableName = h.resources.jobTable;
    await runtime.aws.dynamodb.send(
      new DeleteItemCommand({ TableName, Key: { pk: { S: pk }, sk: { S: sk } } }),
    );
    await resumeAndDrain(jobId);
    for (const id of ids) expect(hits(id)).toBe(1);
    const record = await ledger.getRun(jobId, 'r1');
    expect(record?.status).toBe('succeeded');
    expect(counts(record)).toEqual({
      submitted: 8,
      succeeded: 8,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });

  it('a task the pause stops between its attempts is handed to the work queue, not failed; resumed, it runs', async () => {
    // One invoke task answered 503 with a Retry-After of 3 s; the pause lands with that request, so the worker
    // asks the run before the retry and finds it paused: the Invoke answers the task paused, with its attempt.
    const jobId = 'invoke-pause-retry';
    const id = 'ir0';
    const result = await pausedAtFirstRequest(jobId, [
      { id, url: `${server.url}/retry/${id}`, mode: 'invoke' },
    ]);
    expect(result.status).toBe('succeeded');
    if (result.status !== 'succeeded') return;
    expect(hits(id)).toBe(1);
    expect(result.summary.counts).toMatchObject({
      invokeCalls: 1,
      invokeSucceeded: 0,
      invokeFailed: 0,
      enqueued: 1,
      deadLettered: 0,
      cancelled: 0,
    });
    expect(counts(result.run)).toMatchObject({ submitted: 1, succeeded: 0, deadLettered: 0, cancelled: 0 });
    // Held while paused (maxReceiveCount deliveries), never run, never dead-lettered.
    for (let round = 0; round < 3; round++) expect(await deliverOnce()).toEqual([id]);
    expect(hits(id)).toBe(1);
    await resumeAndDrain(jobId);
    expect(hits(id)).toBe(2);
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
    const record = await ledger.getRun(jobId, 'r1');
    expect(record?.status).toBe('succeeded');
    expect(counts(record)).toEqual({
      submitted: 1,
      succeeded: 1,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  }, 60_000);
});
