import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { RunReasons, type RunRecord } from '../../lib/ledger/run-record.js';
import { redrive } from '../../local/cli/commands/redrive.js';
import type { Edge } from '../../local/edge.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { localCredentials } from '../../local/resources.js';
import {
  drainQueue,
  fakeContext,
  type Harness,
  quietPowertools,
  sqsEvent,
  startEventBus,
  startHarness,
  watchRecordRead,
} from './harness.js';
import { counts, resultLines as resultOf } from './run-outcome.js';

// The job ledger through the real handlers: the orchestrator and the worker against the backend's real
// queue, DLQ, tables and bucket, a real HTTP target on 127.0.0.1 that counts requests per task, and the
// ledger's records read back with the real store. Queue messages are received with the real SQS API and
// handed to the worker as Lambda's event source would.

quietPowertools();

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let runtimeOff: FunctionRuntime;
/** No idempotency table: a segment delivered twice runs twice, as after a timeout in AWS. */
let runtimeTwice: FunctionRuntime;
let orchestratorTwice: (
  event: unknown,
  context: ReturnType<typeof fakeContext>,
) => Promise<OrchestratorResult>;
let ledger: JobLedger;
let s3: S3Client;
let invoke: InvokeServer;
let events: Edge;
const continuations: unknown[] = [];
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
type Worker = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;
let worker: Worker;
let workerOff: Worker;
/** Called when the target receives a request: the test's hook into "while tasks run". */
let onRequest: (path: string, n: number) => void = () => {};
/** Whether `/fixable/` paths answer 404 (a partner's bug, fixed before a redrive). */
let broken = true;
/** `/flaky/` paths answer 503 (retryable) to each task's requests up to this many, then 200. */
let flakyUntil = Number.POSITIVE_INFINITY;
const flakySeen = new Map<string, number>();
const variedSeen = new Map<string, number>();

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => {
    onRequest(req.path, req.n);
    if (req.path.includes('/fail/')) return { status: 404 };
    if (req.path.includes('/slowfail/')) return { status: 404, delayMs: 1_500 };
    if (req.path.includes('/fixable/') && broken) return { status: 404 };
    if (req.path.includes('/flaky/')) {
      const seen = (flakySeen.get(req.path) ?? 0) + 1;
      flakySeen.set(req.path, seen);
      if (seen <= flakyUntil) return { status: 503 };
    }
    if (req.path.includes('/slow/')) return { delayMs: 3_000 };
    if (req.path.includes('/varied/')) {
      // A different error each delivery (4 requests each): 503, then 502, then 500 for good.
      const seen = (variedSeen.get(req.path) ?? 0) + 1;
      variedSeen.set(req.path, seen);
      return { status: seen <= 4 ? 503 : seen <= 8 ? 502 : 500 };
    }
    return undefined;
  });
  // The orchestrator's asynchronous self-invocations (continuations) land here; the test delivers them.
  invoke = new InvokeServer({
    functions: [
      new LocalFunction({
        name: 'ledger-orchestrator',
        handler: (e) => void continuations.push(e),
        timeoutMs: 60_000,
      }),
    ],
    asyncRetryAttempts: 0,
  });
  const lambda = await invoke.listen();
  h = await startHarness(
    {
      perInvocationConcurrency: 4,
      maxReceiveCount: 3,
      pauseRecheckSeconds: 0,
      idempotency: IdempotencyModes.MESSAGE,
      deadlineMarginMs: 1000,
    },
    { AWS_ENDPOINT_URL_LAMBDA: lambda },
  );
  h.env[EnvVars.ORCHESTRATOR_FUNCTION] = 'ledger-orchestrator';
  // This file's own EventBridge: the Run Finished events land on a bus the test can read.
  events = await startEventBus(h);
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  // The same tables with worker idempotency off: the ledger alone must keep a redelivery from counting twice.
  runtimeOff = createRuntime({
    ...h.env,
    [EnvVars.CONFIG]: JSON.stringify({ ...h.config, idempotency: IdempotencyModes.OFF }),
  });
  runtimeTwice = createRuntime({ ...h.env, [EnvVars.IDEMPOTENCY_TABLE]: '' });
  orchestratorTwice = createOrchestratorHandler(() => runtimeTwice);
  worker = createWorkerHandler(() => runtime) as Worker;
  workerOff = createWorkerHandler(() => runtimeOff) as Worker;
  orchestrator = createOrchestratorHandler(() => runtime);
  ledger = runtime.ledger!;
  s3 = new S3Client({ region: 'us-east-1', credentials: localCredentials, forcePathStyle: true });
});

afterAll(async () => {
  await invoke?.close();
  await events?.close();
  await runtime?.destroy();
  await runtimeOff?.destroy();
  await runtimeTwice?.destroy();
  await server?.close();
  s3?.destroy();
  h?.destroy();
});

const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;
const url = (id: string, kind = '') => `${server.url}/${kind ? `${kind}/` : ''}${id}`;

/** `n` inline tasks `<prefix><i>` on the slow path, and how many of them have reached the server. */
function slowInline(prefix: string, n: number) {
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: url(`${prefix}${i}`, 'slow'),
    mode: 'inline',
  }));
  const path = new RegExp(`^/slow/${prefix}\\d+$`);
  const started = () => server.requests.filter((r) => path.test(r.path)).length;
  return { tasks, started };
}

const queued = (prefix: string, n: number, kind = '') =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: url(`${prefix}${i}`, kind),
    mode: 'queue',
  }));

/** Receives what the work queue holds now (deleting it) and hands it to `handler`, until it is empty. */
async function drain(handler: Worker = worker, rounds = 50): Promise<number> {
  let delivered = 0;
  for (let i = 0; i < rounds; i++) {
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    if (messages.length === 0) return delivered;
    delivered += messages.length;
    for (let j = 0; j < messages.length; j += 10)
      await handler(sqsEvent(messages.slice(j, j + 10)), fakeContext());
  }
  throw new Error(`queue not empty after ${rounds} rounds`);
}

const resultLines = (record: RunRecord) => resultOf(s3, h.resources.bucket, record);

describe('job ledger through the handlers', () => {
  it('records a run: every task counted once, ended once by its last settle, result object and status partial', async () => {
    const tasks = [
      ...queued('a', 40),
      ...queued('af', 4, 'fail'),
      ...Array.from({ length: 5 }, (_, i) => ({ id: `ai${i}`, url: url(`ai${i}`), mode: 'inline' })),
      { id: 'bad1', url: 'nope' },
      { id: 'bad2', url: url('x'), timeoutMs: -1 },
    ];
    const result = await orchestrator({ jobId: 'ledger-a', runId: 'r1', tasks }, fakeContext());
    expect(result.status).toBe('succeeded');
    if (result.status !== 'succeeded') return;
    // The orchestrator settled its segment; the queued tasks are not settled yet, so the run is not over.
    expect(counts(result.run)).toEqual({
      submitted: 51,
      succeeded: 5,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 2,
      cancelled: 0,
    });
    expect(result.run?.manifestDone).toBe(true);
    expect(result.run?.finishedAt).toBeUndefined();
    await drain();
    const record = await ledger.getRun('ledger-a', 'r1');
    expect(counts(record)).toEqual({
      submitted: 51,
      succeeded: 45,
      deadLettered: 4,
      undeliverable: 0,
      invalid: 2,
      cancelled: 0,
    });
    expect(record).toMatchObject({ status: 'partial', manifestDone: true });
    expect(record?.finishedAt).toBeGreaterThan(0);
    for (let i = 0; i < 40; i++) expect(hits(`a${i}`)).toBe(1);
    // One Run Finished event, on the default bus, its detail the record as it ended.
    const finished = events.eventBus.events.filter(
      (e) => e.source === 'bounded-fanout' && (e.detail as RunRecord).jobId === 'ledger-a',
    );
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ 'detail-type': 'Run Finished', eventBusName: 'default' });
    // The event went before its writer noted it sent (announcedAt).
    expect(record?.announcedAt).toBeGreaterThan(0);
    expect(finished[0].detail).toEqual({ ...record, announcedAt: undefined });
    const lines = await resultLines(record!);
    expect(lines[0]).toMatchObject({ type: 'summary', jobId: 'ledger-a', runId: 'r1', status: 'partial' });
    expect(lines.filter((l) => l.type === 'invalid').map((l) => l.id)).toEqual(['bad1', 'bad2']);
    expect(
      lines
        .filter((l) => l.type === 'dead-letter')
        .map((l) => (l.task as { id: string }).id)
        .sort(),
    ).toEqual(['af0', 'af1', 'af2', 'af3']);
  });

  it('a run continued across segments: submitted grows per segment, the manifest is done only at the last', async () => {
    // Each invocation has time for about 40 tasks, then its remaining time drops under the margin.
    const deadlineAfter = (checks: number) => {
      let n = 0;
      return fakeContext(() => (++n <= checks ? 60_000 : 500));
    };
    continuations.length = 0;
    let result = await orchestrator(
      { jobId: 'ledger-h', runId: 'r1', tasks: queued('h', 100) },
      deadlineAfter(40),
    );
    let segments = 1;
    while (result.status === 'continued') {
      const mid = await ledger.getRun('ledger-h', 'r1');
      expect(mid?.manifestDone).toBe(false);
      expect(mid?.submitted).toBeGreaterThan(0);
      expect(mid?.submitted).toBeLessThan(100);
      await invoke.idle();
      result = await orchestrator(continuations.shift(), deadlineAfter(40));
      segments++;
    }
    expect(segments).toBeGreaterThanOrEqual(3);
    expect(await ledger.getRun('ledger-h', 'r1')).toMatchObject({ submitted: 100, manifestDone: true });
    await drain();
    for (let i = 0; i < 100; i++) expect(hits(`h${i}`)).toBe(1);
    expect(await ledger.getRun('ledger-h', 'r1')).toMatchObject({ status: 'succeeded', succeeded: 100 });
  });

  it('reads a segment’s kept end back only when its own settle did not count: one read a segment, one more at the end', async () => {
    // Each segment looks for a copy's settle at its start; the last one looks again before ending the run.
    // A settle that counted kept this segment's own end, so nothing is read after it.
    const deadlineAfter = (checks: number) => {
      let n = 0;
      return fakeContext(() => (++n <= checks ? 60_000 : 500));
    };
    let markerReads = 0;
    runtime.aws.dynamodb.middlewareStack.add(
      (next, context) => (args) => {
        const input = JSON.stringify(args.input);
        if (/^Get(Item)?Command$/.test(context.commandName ?? '') && /ledger-sr.*segment:\d/.test(input))
          markerReads++;
        return next(args);
      },
      { step: 'initialize', name: 'markerReads' },
    );
    continuations.length = 0;
    let segments = 0;
    try {
      let result = await orchestrator(
        { jobId: 'ledger-sr', runId: 'r1', tasks: queued('sr', 60) },
        deadlineAfter(25),
      );
      segments = 1;
      while (result.status === 'continued') {
        await invoke.idle();
        result = await orchestrator(continuations.shift(), deadlineAfter(25));
        segments++;
      }
      expect(result.status).toBe('succeeded');
    } finally {
      runtime.aws.dynamodb.middlewareStack.remove('markerReads');
    }
    expect(segments).toBeGreaterThanOrEqual(2);
    expect(markerReads).toBe(segments + 1);
    await drain();
    expect(await ledger.getRun('ledger-sr', 'r1')).toMatchObject({
      status: 'succeeded',
      submitted: 60,
      succeeded: 60,
    });
  });

  it('a segment run twice at once, its copies stopping at different tasks: one split, every task run and counted once', async () => {
    const deadlineAfter = (checks: number) => {
      let n = 0;
      return fakeContext(() => (++n <= checks ? 60_000 : 500));
    };
    continuations.length = 0;
    let events: unknown[] = [{ jobId: 'ledger-twice', runId: 'r1', tasks: queued('tw', 90) }];
    let result: OrchestratorResult | undefined;
    for (let segment = 0; events.length > 0 && segment < 20; segment++) {
      // Each delivery of the segment's event runs as two copies with different deadlines.
      const copies = await Promise.all(
        [13 + segment, 29 + segment].map((checks) => orchestratorTwice(events[0], deadlineAfter(checks))),
      );
      await invoke.idle();
      const sent = continuations.splice(0);
      // Whichever copy settled first, both continue from its end: the same continuation, or none.
      expect(sent.length === 0 || sent.every((e) => JSON.stringify(e) === JSON.stringify(sent[0]))).toBe(
        true,
      );
      expect(new Set(copies.map((c) => c.status === 'continued' && c.cursor)).size).toBe(1);
      result = copies.find((c) => c.status !== 'duplicate');
      events = sent.slice(0, 1);
    }
    expect(result?.status).toBe('succeeded');
    await drain();
    expect(Array.from({ length: 90 }, (_, i) => hits(`tw${i}`)).filter((n) => n !== 1)).toEqual([]);
    expect(await ledger.getRun('ledger-twice', 'r1')).toMatchObject({
      status: 'succeeded',
      submitted: 90,
      succeeded: 90,
      manifestDone: true,
    });
  });

  it('a manifest replaced between segments ends the run failed with the reason, not open for ever', async () => {
    const key = 'manifests/ledger-replaced.json';
    const put = (body: string) =>
      s3.send(new PutObjectCommand({ Bucket: h.resources.bucket, Key: key, Body: body }));
    await put(JSON.stringify({ jobId: 'ledger-r', runId: 'r1', tasks: queued('rp', 30) }));
    let n = 0;
    continuations.length = 0;
    const first = await orchestrator(
      { manifest: `s3://${h.resources.bucket}/${key}` },
      fakeContext(() => (++n <= 10 ? 60_000 : 500)),
    );
    expect(first.status).toBe('continued');
    if (first.status !== 'continued') return;
    await invoke.idle();
    await put(JSON.stringify({ jobId: 'ledger-r', runId: 'r1', tasks: queued('rq', 30) }));
    const second = await orchestrator(continuations.shift(), fakeContext());
    expect(second).toMatchObject({ status: 'failed', summary: { reason: 'manifest-error' } });
    await drain();
    const record = await ledger.getRun('ledger-r', 'r1');
    expect(record).toMatchObject({
      status: 'failed',
      reason: RunReasons.MANIFEST_ERROR,
      manifestDone: true,
      submitted: first.cursor,
      succeeded: first.cursor,
    });
    expect(record?.detail).toMatch(/^manifest: ".*ledger-replaced\.json" changed while the job ran \(ETag /);
    for (let i = 0; i < 30; i++) expect(hits(`rq${i}`)).toBe(0);
  });

  it('counts a message delivered twice, or redelivered after a crash, once: with and without worker idempotency', async () => {
    await orchestrator({ jobId: 'ledger-b', runId: 'r1', tasks: queued('b', 50) }, fakeContext());
    const messages: Message[] = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(messages).toHaveLength(2);
    const [first, second] = messages.map((m) => sqsEvent([m]));
    // A redelivery after a crash that lost the idempotency record: the same message again through a worker
    // with idempotency off, while the run still has work: its tasks run again, its counts are added once.
    await worker(first, fakeContext());
    await workerOff(first, fakeContext());
    const half = await ledger.getRun('ledger-b', 'r1');
    expect(half?.succeeded).toBe(25);
    expect(half?.finishedAt).toBeUndefined();
    // A duplicate delivery: the same message twice at once, through the idempotent worker.
    await Promise.all([worker(second, fakeContext()), worker(second, fakeContext())]);
    const record = await ledger.getRun('ledger-b', 'r1');
    expect(counts(record)).toEqual({
      submitted: 50,
      succeeded: 50,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    expect(record?.status).toBe('succeeded');
    const firstIds = (JSON.parse(messages[0].Body!) as { tasks: { id: string }[] }).tasks.map((t) => t.id);
    for (let i = 0; i < 50; i++) expect(hits(`b${i}`)).toBe(firstIds.includes(`b${i}`) ? 2 : 1);
    // A late redelivery after the run finished (its tasks may run again within the container's 2 s cache of
    // the record, with idempotency off) adds nothing: its key was settled.
    await workerOff(second, fakeContext());
    expect(counts(await ledger.getRun('ledger-b', 'r1'))).toEqual(counts(record));
  });

  it('a mixed batch: two runs, a redelivered message and an invalid one settle per run together, counts exact', async () => {
    await orchestrator(
      { jobId: 'ledger-m', runId: 'r1', limits: { tasksPerMessage: 10 }, tasks: queued('m', 30) },
      fakeContext(),
    );
    await orchestrator(
      {
        jobId: 'ledger-n',
        runId: 'r1',
        limits: { tasksPerMessage: 10 },
        tasks: [...queued('n', 19), ...queued('nf', 1, 'fail')],
      },
      fakeContext(),
    );
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(messages).toHaveLength(5);
    const ofM = messages.filter((m) => m.Body!.includes('"ledger-m"'));
    // One of run m's messages is delivered and settled first; the batch then brings it again (idempotency
    // off: its tasks run again, and the ledger alone keeps its counts from being added twice).
    await workerOff(sqsEvent([ofM[0]]), fakeContext());
    const invalid = { MessageId: 'not-a-task-message', ReceiptHandle: 'x', Body: '{"tasks": 3}' };
    /** The actions of each transaction the worker sent: its markers and the record's update. */
    const transactions: number[] = [];
    runtimeOff.aws.dynamodb.middlewareStack.add(
      (next, context) => (args) => {
        const input = args.input as { TransactItems?: unknown[] };
        if (context.commandName === 'TransactWriteItemsCommand')
          transactions.push(input.TransactItems?.length ?? 0);
        return next(args);
      },
      { step: 'initialize', name: 'mixedBatchCount' },
    );
    const response = (await workerOff(sqsEvent([...messages, invalid]), fakeContext())) as {
      batchItemFailures: { itemIdentifier: string }[];
    };
    runtimeOff.aws.dynamodb.middlewareStack.remove('mixedBatchCount');
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'not-a-task-message' }]);
    // Run m: its three keys and the update in one transaction, refused for the key settled before; its two
    // others again, refused as they would complete the run unread; then plainly. Run n: its two keys and the
    // update in one; then, once its dead letter is out, that count under the message's `!handed` key with the
    // update (read back), which completes it. Never one transaction per message.
    expect(transactions.sort()).toEqual([2, 3, 3, 3, 4]);
    const m = await ledger.getRun('ledger-m', 'r1');
    expect(counts(m)).toMatchObject({ submitted: 30, succeeded: 30, deadLettered: 0, cancelled: 0 });
    expect(m?.status).toBe('succeeded');
    const n = await ledger.getRun('ledger-n', 'r1');
    expect(counts(n)).toMatchObject({ submitted: 20, succeeded: 19, deadLettered: 1, cancelled: 0 });
    expect(n?.status).toBe('partial');
    const redelivered = (JSON.parse(ofM[0].Body!) as { tasks: { id: string }[] }).tasks.map((t) => t.id);
    for (let i = 0; i < 30; i++) expect(hits(`m${i}`)).toBe(redelivered.includes(`m${i}`) ? 2 : 1);
  });

  it('a pause longer than maxReceiveCount receives loses nothing; resumed, every task runs once', async () => {
    await drainQueue(h.sqs, h.resources.deadLetterQueueUrl); // earlier tests' dead letters
    await orchestrator({ jobId: 'ledger-c', runId: 'r1', tasks: queued('c', 30) }, fakeContext());
    await ledger.setStatus('ledger-c', 'r1', { status: 'paused', from: ['running'] });
    // Six receives of the run's work, twice maxReceiveCount: each puts the messages back as new ones.
    for (let round = 0; round < 6; round++) {
      const messages = await drainQueue(h.sqs, h.resources.queueUrl);
      expect(messages.map((m) => JSON.parse(m.Body!).tasks.length).reduce((a, b) => a + b, 0)).toBe(30);
      await worker(
        sqsEvent(messages),
        fakeContext(() => 60_000),
      );
      // The worker's cached record may be read again only after 2 s: it stays paused here anyway.
    }
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
    for (let i = 0; i < 30; i++) expect(hits(`c${i}`)).toBe(0);
    await ledger.setStatus('ledger-c', 'r1', { status: 'running', from: ['paused'] });
    await new Promise((r) => setTimeout(r, 2_100)); // the worker's cached copy expires (not an assertion)
    await drain();
    for (let i = 0; i < 30; i++) expect(hits(`c${i}`)).toBe(1);
    const record = await ledger.getRun('ledger-c', 'r1');
    expect(record?.status).toBe('succeeded');
    expect(counts(record)).toMatchObject({ submitted: 30, succeeded: 30, cancelled: 0, deadLettered: 0 });
  });

  it('cancel stops fast: no task starts once the cancel is seen, the rest end cancelled, counts exact', async () => {
    // Two messages of 10 tasks; the first four (the in-flight limit) are slow. The cancel lands while
    // they are in flight; when they answer (3 s later) the worker's cached record is stale and re-read.
    const tasks = [...queued('ds', 4, 'slow'), ...queued('d', 16)];
    await orchestrator(
      { jobId: 'ledger-d', runId: 'r1', limits: { tasksPerMessage: 10 }, tasks },
      fakeContext(),
    );
    let cancelled: Promise<unknown> | undefined;
    onRequest = (path) => {
      if (path.endsWith('/ds3'))
        cancelled ??= ledger.setStatus('ledger-d', 'r1', {
          status: 'cancelled',
          reason: 'cancelled',
          from: ['running', 'paused'],
        });
    };
    await drain();
    onRequest = () => {};
    await cancelled;
    const started = server.requests.filter((r) => /^\/(slow\/ds|d)\d+$/.test(r.path)).length;
    // The four in flight when the cancel landed finished; nothing else started.
    expect(started).toBe(4);
    const record = await ledger.getRun('ledger-d', 'r1');
    expect(record).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(counts(record)).toEqual({
      submitted: 20,
      succeeded: 4,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 16,
    });
    expect(record?.finishedAt).toBeGreaterThan(0);
  });

  it('the failure budget is judged on the fleet’s counts: the run fails, later messages end cancelled', async () => {
    // 10% tolerated; the first message's 10 tasks all fail for good (404), the next four messages' do not.
    const tasks = [...queued('ef', 10, 'fail'), ...queued('e', 40)];
    await orchestrator(
      { jobId: 'ledger-e', runId: 'r1', toleratedFailurePercent: 10, limits: { tasksPerMessage: 10 }, tasks },
      fakeContext(),
    );
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    const first = messages.filter((m) => m.Body!.includes('"ef0"'));
    const rest = messages.filter((m) => !m.Body!.includes('"ef0"'));
    await worker(sqsEvent(first), fakeContext());
    expect(await ledger.getRun('ledger-e', 'r1')).toMatchObject({
      status: 'failed',
      reason: 'failure-budget',
    });
    await worker(sqsEvent(rest), fakeContext());
    for (let i = 0; i < 40; i++) expect(hits(`e${i}`)).toBe(0);
    const record = await ledger.getRun('ledger-e', 'r1');
    expect(counts(record)).toEqual({
      submitted: 50,
      succeeded: 0,
      deadLettered: 10,
      undeliverable: 0,
      invalid: 0,
      cancelled: 40,
    });
    expect(record).toMatchObject({ status: 'failed', reason: 'failure-budget' });
    expect(record?.finishedAt).toBeGreaterThan(0);
  });

  it('the orchestrator judges its own failure on the fleet’s counts: one failed inline task among 100 queued successes trips nothing', async () => {
    // 10% tolerated. The queued tasks go first (10 messages: one full SendMessageBatch, sent at once) and succeed
    // at the worker while the first inline task (one at a time) waits 1.5 s for its 404: judged on its own
    // outcomes alone (1 of 1 failed) the orchestrator used to fail the run and never read the other inline tasks.
    const inline = ['fi0', 'fi1', 'fi2', 'fi3', 'fi4'].map((id, i) => ({
      id,
      url: url(id, i === 0 ? 'slowfail' : ''),
      mode: 'inline',
    }));
    const tasks = [...queued('fq', 100), ...inline];
    const limits = { tasksPerMessage: 10, inline: 1 };
    const run = orchestrator(
      { jobId: 'ledger-fleet', runId: 'r1', toleratedFailurePercent: 10, limits, tasks },
      fakeContext(),
    );
    for (let i = 0; i < 500 && hits('fi0') === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(hits('fi0')).toBe(1);
    const settled = async () => (await ledger.getRun('ledger-fleet', 'r1'))?.succeeded;
    for (let i = 0; i < 100 && (await settled()) !== 100; i++) await drain();
    expect(await settled()).toBe(100);
    expect(hits('fi1')).toBe(0); // still waiting for the first inline task's answer
    const result = await run;
    expect(result).toMatchObject({ summary: { counts: { inlineSucceeded: 4, inlineFailed: 1 } } });
    for (const t of tasks) expect(hits(t.id)).toBe(1);
    const record = await ledger.getRun('ledger-fleet', 'r1');
    expect(counts(record)).toEqual({
      submitted: 105,
      succeeded: 104,
      deadLettered: 1,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    expect(record).toMatchObject({ status: 'partial', manifestDone: true });
  });

  it('cancel stops an orchestrator reading inline tasks: at most the inline limit starts after it, counts exact', async () => {
    // Inline tasks, four at a time, each answering after 3 s (longer than the 2 s the orchestrator caches
    // the record): the cancel lands while the first four are in flight, so the orchestrator's first look after
    // they end reads it, and at most one more round of the in-flight limit starts before that read returns.
    const { tasks, started } = slowInline('ic', 20);
    let cancelled: Promise<unknown> | undefined;
    let startedAtCancel = 0;
    onRequest = (path) => {
      if (!path.startsWith('/slow/ic') || cancelled) return;
      startedAtCancel = started();
      cancelled = ledger.setStatus('ledger-ic', 'r1', {
        status: 'cancelled',
        reason: 'cancelled',
        from: ['running', 'paused'],
      });
    };
    const result = await orchestrator(
      { jobId: 'ledger-ic', runId: 'r1', limits: { inline: 4 }, tasks },
      fakeContext(),
    );
    onRequest = () => {};
    await cancelled;
    const total = started();
    // The first round (the in-flight limit) ran, and at most one more round started after the cancel.
    expect(startedAtCancel).toBeGreaterThanOrEqual(1);
    expect(total).toBeGreaterThanOrEqual(4);
    expect(total - 4).toBeLessThanOrEqual(4);
    for (let i = 0; i < 20; i++) expect(hits(`ic${i}`)).toBeLessThanOrEqual(1);
    expect(result).toMatchObject({
      status: 'cancelled',
      summary: { reason: 'cancelled', stoppedAtTask: total, counts: { read: total, inlineSucceeded: total } },
    });
    if (result.status === 'cancelled') expect(result.summary.peaks.inline).toBeLessThanOrEqual(4);
    // The tasks never read are not the run's: submitted is what was read, each counted once.
    const record = await ledger.getRun('ledger-ic', 'r1');
    expect(record).toMatchObject({ status: 'cancelled', reason: 'cancelled', manifestDone: true });
    expect(counts(record)).toEqual({
      submitted: total,
      succeeded: total,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    expect(record?.finishedAt).toBeGreaterThan(0);
  });

  it('the failure budget tripped by queued tasks elsewhere stops an orchestrator reading inline tasks: at most the inline limit starts after it, counts exact', async () => {
    // Ten queued tasks that fail for good (404), one a message, so that they fill one SendMessageBatch and are
    // sent while the segment runs; then slow inline tasks four at a time (3 s each, longer than the 2 s the
    // orchestrator caches the record). With the first inline request the test hands the messages to a worker:
    // their ten dead letters exceed the 10% tolerated and the run fails while the first four are in flight;
    // the orchestrator's first look after they end reads it.
    const { tasks: inline, started } = slowInline('ib', 20);
    const tasks = [...queued('ibf', 10, 'fail'), ...inline];
    let tripped: Promise<void> | undefined;
    let startedAtTrip = -1;
    const trip = async () => {
      // The message may still be on its way to the queue when the first inline task reaches the target.
      let delivered = 0;
      for (let i = 0; i < 50 && delivered < 10; i++) {
        delivered += await drain();
        if (delivered < 10) await new Promise((r) => setTimeout(r, 100));
      }
      startedAtTrip = started();
    };
    onRequest = (path) => {
      if (path.startsWith('/slow/ib')) tripped ??= trip();
    };
    const result = await orchestrator(
      {
        jobId: 'ledger-ib',
        runId: 'r1',
        toleratedFailurePercent: 10,
        limits: { inline: 4, tasksPerMessage: 1 },
        tasks,
      },
      fakeContext(),
    ).finally(() => {
      onRequest = () => {};
    });
    await tripped;
    const total = started();
    // The first round (the in-flight limit) ran, the run failed while it did, and at most one more round
    // started after that.
    expect(startedAtTrip).toBeGreaterThanOrEqual(1);
    expect(startedAtTrip).toBeLessThanOrEqual(4);
    expect(total).toBeGreaterThanOrEqual(4);
    expect(total - 4).toBeLessThanOrEqual(4);
    for (let i = 0; i < 10; i++) expect(hits(`ibf${i}`)).toBe(1);
    for (let i = 0; i < 20; i++) expect(hits(`ib${i}`)).toBeLessThanOrEqual(1);
    expect(result).toMatchObject({
      summary: { reason: 'failure-budget', stoppedAtTask: 10 + total, counts: { inlineSucceeded: total } },
    });
    // The inline tasks never read are not the run's (as under cancel): submitted is what was read.
    const record = await ledger.getRun('ledger-ib', 'r1');
    expect(record).toMatchObject({ status: 'failed', reason: 'failure-budget', manifestDone: true });
    expect(counts(record)).toEqual({
      submitted: 10 + total,
      succeeded: total,
      deadLettered: 10,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    expect(record?.finishedAt).toBeGreaterThan(0);
  });

  it('a paused run’s orchestrator starts no inline task while paused; resumed, it finishes with exact counts', async () => {
    // Inline tasks four at a time, 3 s each (longer than the orchestrator's 2 s cache of the record). The pause
    // lands with the first task; the orchestrator's reads of the record are watched. The first two answers
    // `paused` may come from the stop checks of a task already past its hold (it still starts); by the third
    // the orchestrator is waiting in its hold loop (only that loop reads again), and from then on no task
    // may start until the resume, two more looks later.
    const { tasks, started } = slowInline('ip', 12);
    let pausedReads = 0;
    let atThird = -1;
    let startedWhileHeld = -1;
    let resumed: Promise<unknown> | undefined;
    const resume = () =>
      ledger.setStatus('ledger-ip', 'r1', { status: 'running', from: ['paused'] }).then(() => undefined);
    runtime.aws.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const read = /^Get(Item)?Command$/.test(context.commandName ?? '');
        const text = read ? JSON.stringify(out.output) : '';
        if (text.includes('ledger-ip') && text.includes('"paused"')) {
          pausedReads++;
          if (pausedReads === 3) atThird = started();
          // Two more looks while held: nothing may have started since the second.
          if (pausedReads === 5) {
            startedWhileHeld = started() - atThird;
            resumed ??= resume();
          }
        }
        return out;
      },
      { step: 'initialize', name: 'pauseWatch' },
    );
    let paused: Promise<unknown> | undefined;
    onRequest = (path) => {
      if (path.startsWith('/slow/ip'))
        paused ??= ledger.setStatus('ledger-ip', 'r1', { status: 'paused', from: ['running'] });
    };
    try {
      const result = await orchestrator(
        { jobId: 'ledger-ip', runId: 'r1', limits: { inline: 4 }, tasks },
        fakeContext(),
      );
      expect(result).toMatchObject({
        status: 'succeeded',
        summary: { counts: { read: 12, inlineSucceeded: 12 } },
      });
    } finally {
      runtime.aws.dynamodb.middlewareStack.remove('pauseWatch');
      onRequest = () => {};
    }
    await paused;
    await resumed;
    expect(pausedReads).toBeGreaterThanOrEqual(5);
    expect(startedWhileHeld).toBe(0);
    // Held with work left: the pause stopped the read before its end.
    expect(atThird).toBeGreaterThanOrEqual(4);
    expect(atThird).toBeLessThan(12);
    for (let i = 0; i < 12; i++) expect(hits(`ip${i}`)).toBe(1);
    const record = await ledger.getRun('ledger-ip', 'r1');
    expect(record).toMatchObject({ status: 'succeeded', manifestDone: true });
    expect(counts(record)).toEqual({
      submitted: 12,
      succeeded: 12,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });

  it('a paused run’s orchestrator does not start the inline task that was waiting for its permit when the pause came', async () => {
    // One inline task at a time, 3 s each (longer than the orchestrator's 2 s cache of the record). The pause lands
    // with the first task's request, while the second, read and past its hold, waits for the inline permit. Before,
    // it started as the first ended, the pause unasked (only a cancel or the budget was), and so did the third,
    // read while the record was being read again: the run was never held. The run is resumed at the second
    // `paused` answer read, which only a held orchestrator asks for.
    const { tasks, started } = slowInline('iw', 3);
    let pausedReads = 0;
    let atResume: number | undefined;
    let resumed: Promise<unknown> | undefined;
    runtime.aws.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const read = /^Get(Item)?Command$/.test(context.commandName ?? '');
        const text = read ? JSON.stringify(out.output) : '';
        if (text.includes('ledger-iw') && text.includes('"paused"') && ++pausedReads === 2) {
          atResume = started();
          resumed = ledger.setStatus('ledger-iw', 'r1', { status: 'running', from: ['paused'] });
        }
        return out;
      },
      { step: 'initialize', name: 'permitPauseWatch' },
    );
    let paused: Promise<unknown> | undefined;
    onRequest = (path) => {
      if (path.startsWith('/slow/iw'))
        paused ??= ledger.setStatus('ledger-iw', 'r1', { status: 'paused', from: ['running'] });
    };
    try {
      const result = await orchestrator(
        { jobId: 'ledger-iw', runId: 'r1', limits: { inline: 1 }, tasks },
        fakeContext(),
      );
      expect(result).toMatchObject({
        status: 'succeeded',
        summary: { counts: { read: 3, inlineSucceeded: 3 } },
      });
    } finally {
      runtime.aws.dynamodb.middlewareStack.remove('permitPauseWatch');
      onRequest = () => {};
    }
    await paused;
    await resumed;
    // Only the first task had started when the run was resumed (before: all three, never held).
    expect(atResume ?? started()).toBe(1);
    for (let i = 0; i < 3; i++) expect(hits(`iw${i}`)).toBe(1);
    const record = await ledger.getRun('ledger-iw', 'r1');
    expect(record).toMatchObject({ status: 'succeeded', manifestDone: true });
    expect(counts(record)).toEqual({
      submitted: 3,
      succeeded: 3,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });

  it('a running orchestrator follows an inlineConcurrency override lowered mid-run: tasks started after it run alone', async () => {
    // Four slow inline tasks (3 s, longer than the 2 s the orchestrator caches the record) then fast ones,
    // four at a time. The override (1) is set with the first request; the orchestrator's reads of the record
    // are watched, and from the one that brings the override every task it starts finds the target with
    // no other of the run's requests in flight. The four before may still be on their way when it lands.
    const tasks = [
      ...Array.from({ length: 4 }, (_, i) => ({ id: `lo${i}`, url: url(`lo${i}`, 'slow'), mode: 'inline' })),
      ...Array.from({ length: 60 }, (_, i) => ({ id: `lf${i}`, url: url(`lf${i}`), mode: 'inline' })),
    ];
    const inFlightAtArrival: number[] = [];
    const seenAt = watchRecordRead(
      runtime.aws.dynamodb,
      ['ledger-lo', 'inlineConcurrency'],
      () => inFlightAtArrival.length,
      'overrideWatch',
    );
    let lowered: Promise<unknown> | undefined;
    onRequest = (path) => {
      if (!/\/(lo|lf)\d+$/.test(path)) return;
      inFlightAtArrival.push(server.tally.inFlight);
      lowered ??= ledger.setLimits('ledger-lo', 'r1', { inlineConcurrency: 1 });
    };
    let result: OrchestratorResult;
    try {
      result = await orchestrator(
        { jobId: 'ledger-lo', runId: 'r1', limits: { inline: 4 }, tasks },
        fakeContext(),
      );
    } finally {
      runtime.aws.dynamodb.middlewareStack.remove('overrideWatch');
      onRequest = () => {};
    }
    await lowered;
    expect(result).toMatchObject({
      status: 'succeeded',
      summary: { counts: { read: 64, inlineSucceeded: 64 } },
    });
    // The first four ran together under the job's limit; the override was read while tasks were left.
    expect(inFlightAtArrival.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(seenAt()).toBeGreaterThanOrEqual(4);
    const after = inFlightAtArrival.slice(seenAt() + 4);
    // Enough after it to tell (how many ran before it lands depends on the machine's load).
    expect(after.length).toBeGreaterThanOrEqual(10);
    expect(after).toEqual(Array(after.length).fill(1));
    for (const t of tasks) expect(hits(t.id)).toBe(1);
    expect(await ledger.getRun('ledger-lo', 'r1')).toMatchObject({
      status: 'succeeded',
      submitted: 64,
      succeeded: 64,
      limits: { inlineConcurrency: 1 },
    });
  });

  it('redrive runs dead-lettered tasks again: each succeeds once, and the run’s counts move to succeeded', async () => {
    await drainQueue(h.sqs, h.resources.deadLetterQueueUrl); // earlier tests' dead letters
    await orchestrator({ jobId: 'ledger-g', runId: 'r1', tasks: queued('g', 12, 'fixable') }, fakeContext());
    await drain();
    expect(await ledger.getRun('ledger-g', 'r1')).toMatchObject({
      status: 'partial',
      submitted: 12,
      succeeded: 0,
      deadLettered: 12,
    });
    broken = false;
    const { Attributes } = await h.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: h.resources.deadLetterQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    const deadMessages = Number(Attributes?.ApproximateNumberOfMessages);
    const moved = await redrive({
      sqs: h.sqs,
      queueUrl: h.resources.queueUrl,
      deadLetterQueueUrl: h.resources.deadLetterQueueUrl,
    });
    // Every message the DLQ held, each moved once (fauxqs has no move task: the fallback).
    expect(deadMessages).toBeGreaterThan(0);
    expect(moved).toMatchObject({ method: 'receive-and-resend', moved: deadMessages });
    await drain();
    // Once refused (404), once run again and answered.
    for (let i = 0; i < 12; i++) expect(hits(`g${i}`)).toBe(2);
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
    const record = await ledger.getRun('ledger-g', 'r1');
    expect(counts(record)).toEqual({
      submitted: 12,
      succeeded: 12,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    // The run keeps the status it ended with (its result object lists what was dead-lettered then).
    expect(record?.status).toBe('partial');
  });

  it('a redriven task gets its full attempt budget again: retryable failures, exact requests per task', async () => {
    // Each delivery runs a task's HTTP attempts (4 by default) and maxReceiveCount (3) deliveries are the
    // message-level budget: a task answered 503 every time is dead-lettered after exactly 3 x 4 requests.
    const perDelivery = 4;
    const budget = 3 * perDelivery;
    await drainQueue(h.sqs, h.resources.deadLetterQueueUrl); // earlier tests' dead letters
    await orchestrator({ jobId: 'ledger-rt', runId: 'r1', tasks: queued('rt', 4, 'flaky') }, fakeContext());
    await drain();
    for (let i = 0; i < 4; i++) expect(hits(`rt${i}`)).toBe(budget);
    expect(await ledger.getRun('ledger-rt', 'r1')).toMatchObject({ succeeded: 0, deadLettered: 4 });
    // After the redrive the target fails all but the last request of a whole budget: only a task that got
    // its full budget back (attempt 1, not the spent one) gets to that last request and succeeds.
    flakyUntil = 2 * budget - 1;
    const moved = await redrive({
      sqs: h.sqs,
      queueUrl: h.resources.queueUrl,
      deadLetterQueueUrl: h.resources.deadLetterQueueUrl,
    });
    expect(moved.moved).toBeGreaterThan(0);
    await drain();
    for (let i = 0; i < 4; i++) expect(hits(`rt${i}`)).toBe(2 * budget);
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
    expect(counts(await ledger.getRun('ledger-rt', 'r1'))).toEqual({
      submitted: 4,
      succeeded: 4,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });

  it('the result object holds each dead-lettered and invalid task once, with its last error', async () => {
    // Queued tasks fail with a different status each delivery (maxReceiveCount 3, 4 requests each), so each
    // is dead-lettered at its third delivery with 500 after a 503 and a 502; an inline one gets 503 three
    // times and 502 at its fourth and last request; two manifest lines are invalid.
    const tasks = [
      ...queued('lv', 3, 'varied'),
      { id: 'lvi', url: url('lvi', 'varied'), mode: 'inline' },
      { id: 'lvbad', url: 'not a url' },
      { id: 'lvneg', url: url('lvneg'), timeoutMs: -5 },
      ...queued('lvok', 4),
    ];
    variedSeen.set('/varied/lvi', 1);
    await orchestrator({ jobId: 'ledger-lv', runId: 'r1', tasks }, fakeContext());
    await drain();
    for (let i = 0; i < 3; i++) expect(hits(`lv${i}`)).toBe(12);
    expect(hits('lvi')).toBe(4);
    const record = await ledger.getRun('ledger-lv', 'r1');
    expect(record).toMatchObject({ status: 'partial', deadLettered: 4, invalid: 2, succeeded: 4 });
    const lines = await resultLines(record!);
    const dead = lines.filter((l) => l.type === 'dead-letter');
    const byId = new Map(dead.map((l) => [(l.task as { id: string }).id, l]));
    // Each once, with the status and error of its last request.
    expect(dead).toHaveLength(4);
    for (const id of ['lv0', 'lv1', 'lv2']) {
      expect(byId.get(id)).toMatchObject({ status: 500, attempts: 3 });
      expect(byId.get(id)?.error).toMatch(/\b500\b/);
      expect(byId.get(id)?.error).not.toMatch(/\b50[23]\b/);
    }
    expect(byId.get('lvi')).toMatchObject({ status: 502 });
    expect(byId.get('lvi')?.error).toMatch(/\b502\b/);
    expect(byId.get('lvi')?.error).not.toMatch(/\b503\b/);
    const invalid = lines.filter((l) => l.type === 'invalid');
    expect(invalid.map((l) => l.id)).toEqual(['lvbad', 'lvneg']);
    expect(invalid.map((l) => l.error)).toEqual([
      'url: "not a url" is not an http(s) URL',
      'timeoutMs: -5 is not a positive integer',
    ]);
  });

  it('the result object a worker completes keeps no secret of a dead-lettered task', async () => {
    const secret = {
      id: 'sx',
      url: `${url('sx', 'fail')}?token=tok-zz-1`,
      mode: 'queue',
      headers: { Authorization: 'Bearer s3cr3t-zz-2' },
    };
    await orchestrator({ jobId: 'ledger-s', runId: 'r1', tasks: [secret, ...queued('s', 3)] }, fakeContext());
    await drain();
    const record = await ledger.getRun('ledger-s', 'r1');
    expect(record).toMatchObject({ status: 'partial', deadLettered: 1, succeeded: 3 });
    const text = JSON.stringify(await resultLines(record!));
    expect(text).toContain('"sx"');
    expect(text).not.toContain('tok-zz-1');
    expect(text).not.toContain('s3cr3t-zz-2');
  });

  it("a run that ended without its result object: the job's next run writes it, then its one event", async () => {
    const ofRun = (runId: string) =>
      events.eventBus.events.filter((e) => {
        const detail = e.detail as RunRecord;
        return e.source === 'bounded-fanout' && detail.jobId === 'ledger-an' && detail.runId === runId;
      });
    let lost = 0;
    runtime.aws.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? '';
        const result = key.endsWith('ledger-an/r1.ndjson');
        if (lost === 0 && context.commandName === 'PutObjectCommand' && result) {
          lost++;
          throw new Error('injected: the result object is lost');
        }
        return next(args);
      },
      { step: 'initialize', name: 'resultLoss' },
    );
    try {
      await orchestrator({ jobId: 'ledger-an', runId: 'r1', tasks: queued('an', 3) }, fakeContext());
      await drain();
    } finally {
      runtime.aws.s3.middlewareStack.remove('resultLoss');
    }
    expect(lost).toBe(1);
    const ended = await ledger.getRun('ledger-an', 'r1');
    expect(ended).toMatchObject({ status: 'succeeded', succeeded: 3 });
    expect(ended?.resultUri).toBeDefined();
    expect(ended?.announcedAt).toBeUndefined();
    await expect(resultLines(ended!)).rejects.toThrow();
    // No event for an object that is not there.
    expect(ofRun('r1')).toHaveLength(0);

    await orchestrator({ jobId: 'ledger-an', runId: 'r2', tasks: queued('ao', 2) }, fakeContext());
    const repaired = await ledger.getRun('ledger-an', 'r1');
    expect(repaired?.announcedAt).toBeGreaterThan(0);
    expect((await resultLines(repaired!))[0]).toMatchObject({ type: 'summary', runId: 'r1', succeeded: 3 });
    expect(ofRun('r1')).toHaveLength(1);
    await drain();
    expect(await ledger.getRun('ledger-an', 'r2')).toMatchObject({ status: 'succeeded', succeeded: 2 });
    expect((await ledger.getRun('ledger-an', 'r2'))?.announcedAt).toBeGreaterThan(0);
    // Noted once: a third run writes neither again.
    await orchestrator({ jobId: 'ledger-an', runId: 'r3', tasks: queued('ap', 1) }, fakeContext());
    await drain();
    expect([ofRun('r1').length, ofRun('r2').length, ofRun('r3').length]).toEqual([1, 1, 1]);
    for (const id of ['an0', 'an1', 'an2', 'ao0', 'ao1', 'ap0']) expect(hits(id)).toBe(1);
  });

  it('overlap: forbid (the default) skips a new run while the last one runs, and starts nothing', async () => {
    await orchestrator({ jobId: 'ledger-f', runId: 'r1', tasks: queued('f', 5) }, fakeContext());
    const skipped = await orchestrator(
      { jobId: 'ledger-f', runId: 'r2', tasks: queued('fg', 5) },
      fakeContext(),
    );
    expect(skipped).toEqual({ status: 'skipped', jobId: 'ledger-f', runId: 'r2', previousRunId: 'r1' });
    expect(await ledger.getRun('ledger-f', 'r2')).toMatchObject({ status: 'skipped', reason: 'overlap' });
    expect((await ledger.getRun('ledger-f'))?.runId).toBe('r1');
    await drain();
    for (let i = 0; i < 5; i++) expect(hits(`fg${i}`)).toBe(0);
    expect(await ledger.getRun('ledger-f', 'r1')).toMatchObject({ status: 'succeeded', succeeded: 5 });
  });

  it('overlap: a previous run complete but never ended (its last settler died) is ended by the next, skipped, run', async () => {
    // r1's every task settled, but whoever settled last died before ending it: the store's settles, no end.
    const started = { jobId: 'ledger-fc', runId: 'r1', startedAt: Date.now(), toleratedFailurePercent: 0 };
    await ledger.startRun({ ...started, overlap: 'forbid' });
    await ledger.settle({
      jobId: 'ledger-fc',
      runId: 'r1',
      key: 'segment:0',
      delta: { submitted: 2 },
      manifestDone: true,
    });
    await ledger.settle({ jobId: 'ledger-fc', runId: 'r1', key: 'm0', delta: { succeeded: 2 } });
    expect(await ledger.getRun('ledger-fc', 'r1')).toMatchObject({
      status: 'running',
      submitted: 2,
      succeeded: 2,
    });
    // Before, r1 stayed running for ever and every later run was skipped.
    const skipped = await orchestrator(
      { jobId: 'ledger-fc', runId: 'r2', tasks: queued('fc', 2) },
      fakeContext(),
    );
    expect(skipped).toMatchObject({ status: 'skipped', previousRunId: 'r1' });
    expect(await ledger.getRun('ledger-fc', 'r1')).toMatchObject({ status: 'succeeded', succeeded: 2 });
    expect((await ledger.getRun('ledger-fc', 'r1'))?.finishedAt).toBeGreaterThan(0);
    const next = await orchestrator(
      { jobId: 'ledger-fc', runId: 'r3', tasks: queued('fd', 2) },
      fakeContext(),
    );
    expect(next).not.toMatchObject({ status: 'skipped' });
    await drain();
    expect(await ledger.getRun('ledger-fc', 'r3')).toMatchObject({ status: 'succeeded', succeeded: 2 });
    for (const id of ['fc0', 'fc1']) expect(hits(id)).toBe(0);
    for (const id of ['fd0', 'fd1']) expect(hits(id)).toBe(1);
  });
});
