import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars } from '../../lib/config.js';
import { readDeadLetterBody, type TaskMessage } from '../../lib/fanout/messages.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { localCredentials } from '../../local/resources.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';

// The orchestrator handler against the real queue, DLQ, table and bucket of the chosen backend, the real
// worker behind the local Invoke endpoint (RequestResponse), and a real HTTP server on 127.0.0.1. Its
// asynchronous self-invocations (continuations) are captured by a stand-in orchestrator function on the
// Invoke endpoint, so the test delivers them itself, with a deadline it controls, once or twice.

quietPowertools();

let h: Harness;
let server: CountingServer;
let invoke: InvokeServer;
let runtime: FunctionRuntime;
let s3: S3Client;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
const continuations: unknown[] = [];

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 2 });
  server.script((req) => (req.path.includes('/fail/') ? { status: 404 } : undefined));
  let worker: ((event: unknown, context: never) => unknown) | undefined;
  invoke = new InvokeServer({
    functions: [
      new LocalFunction({
        name: 'pending-worker',
        handler: (e, c) => worker!(e, c as never),
        timeoutMs: 60_000,
      }),
      new LocalFunction({
        name: 'pending-orchestrator',
        handler: (e) => void continuations.push(e),
        timeoutMs: 60_000,
      }),
    ],
    asyncRetryAttempts: 0,
  });
  const endpoint = await invoke.listen();
  h = await startHarness(
    {
      inlineConcurrency: 8,
      invokeConcurrency: 2,
      enqueueConcurrency: 2,
      perInvocationConcurrency: 4,
      deadlineMarginMs: 1000,
    },
    { AWS_ENDPOINT_URL_LAMBDA: endpoint },
  );
  const env = {
    ...h.env,
    // No job table: this file checks the orchestrator's own accounting and result object, which it writes
    // itself when no ledger is wired (test/functions/ledger.test.ts covers a run with the ledger).
    [EnvVars.JOB_TABLE]: '',
    BOUNDED_FANOUT_WORKER_FUNCTION: 'pending-worker',
    BOUNDED_FANOUT_ORCHESTRATOR_FUNCTION: 'pending-orchestrator',
  };
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(env);
  worker = createWorkerHandler(() => runtime) as typeof worker;
  orchestrator = createOrchestratorHandler(() => runtime);
  s3 = new S3Client({ region: 'us-east-1', credentials: localCredentials, forcePathStyle: true });
});

afterAll(async () => {
  await invoke?.close();
  await runtime?.destroy();
  await server?.close();
  s3?.destroy();
  h?.destroy();
});

const hits = (path: string) => server.requests.filter((r) => r.path === path).length;
const url = (id: string, fail = false) => `${server.url}/${fail ? 'fail/' : ''}${id}`;

async function deadLetteredIds(): Promise<string[]> {
  const bodies = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
  return bodies.flatMap((m) => {
    const body = readDeadLetterBody(m.Body!);
    return body.kind === 'dead-letter' ? body.message.tasks.map((t) => t.task.id) : [];
  });
}

async function queuedIds(): Promise<string[]> {
  const messages = await drainQueue(h.sqs, h.resources.queueUrl);
  return messages.flatMap((m) => (JSON.parse(m.Body!) as TaskMessage).tasks.map((t) => t.id));
}

describe('orchestrator', () => {
  it('runs inline tasks, enqueues queue tasks packed, invokes the worker in chunks, and accounts for all', async () => {
    const tasks = [
      ...Array.from({ length: 40 }, (_, i) => ({ id: `in${i}`, url: url(`in${i}`, i < 2), mode: 'inline' })),
      ...Array.from({ length: 100 }, (_, i) => ({ id: `q${i}`, url: url(`q${i}`), mode: 'queue' })),
      ...Array.from({ length: 30 }, (_, i) => ({ id: `iv${i}`, url: url(`iv${i}`, i < 2), mode: 'invoke' })),
      { id: 'bad1', url: 'nope' },
      { id: 'q0', url: url('dup') },
      { id: 'bad3', url: url('x'), timeoutMs: -1 },
    ];
    const result = await orchestrator(
      { jobId: 'mixed', limits: { inline: 5, tasksPerMessage: 10 }, tasks },
      fakeContext(),
    );
    expect(result.status).toBe('succeeded');
    if (result.status !== 'succeeded') return;
    const { summary } = result;
    expect(summary.counts).toEqual({
      read: 173,
      invalid: 3,
      inlineSucceeded: 38,
      inlineFailed: 2,
      enqueued: 100,
      messages: 10,
      batches: 1,
      invokeSucceeded: 28,
      invokeFailed: 2,
      invokeCalls: 2,
      deadLettered: 4,
      undeliverable: 0,
      cancelled: 0,
    });
    expect(summary.peaks.inline).toBe(5);
    expect(summary.peaks.enqueue).toBeLessThanOrEqual(2);
    expect(summary.peaks.invoke).toBeLessThanOrEqual(2);
    for (let i = 2; i < 40; i++) expect(hits(`/in${i}`)).toBe(1);
    for (let i = 2; i < 30; i++) expect(hits(`/iv${i}`)).toBe(1);
    expect((await queuedIds()).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `q${i}`).sort());
    expect((await deadLetteredIds()).sort()).toEqual(['in0', 'in1', 'iv0', 'iv1']);

    const object = await s3.send(
      new GetObjectCommand({ Bucket: h.resources.bucket, Key: result.resultKey! }),
    );
    const lines = (await object.Body!.transformToString())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'summary', jobId: 'mixed', status: 'succeeded' });
    expect(lines.filter((l) => l.type === 'invalid').map((l) => l.index)).toEqual([170, 171, 172]);
    expect(
      lines
        .filter((l) => l.type === 'dead-letter')
        .map((l) => l.task.id)
        .sort(),
    ).toEqual(['in0', 'in1', 'iv0', 'iv1']);
  });

  it('refuses a bad job header with the path and the value, running nothing', async () => {
    const before = server.requests.length;
    const result = await orchestrator(
      { jobId: 'bad', limits: { inline: -1 }, tasks: [{ id: 'a', url: url('a'), mode: 'inline' }] },
      fakeContext(),
    );
    expect(result).toEqual({
      status: 'refused',
      error: 'limits.inline: -1 is not a positive integer',
      field: 'limits.inline',
    });
    expect(server.requests.length).toBe(before);
  });

  it('continues an S3 manifest across invocations near the deadline, each task enqueued once, a duplicate delivery ignored', async () => {
    const lines = [
      JSON.stringify({ jobId: 'streamed', limits: { tasksPerMessage: 7 } }),
      ...Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `s${i}`, url: url(`s${i}`) })),
      'not json',
      JSON.stringify({ id: 'huge', url: url('huge'), body: 'x'.repeat(300 * 1024) }),
      JSON.stringify({ id: 's5', url: url('again') }),
    ];
    const key = 'manifests/streamed.ndjson';
    await s3.send(new PutObjectCommand({ Bucket: h.resources.bucket, Key: key, Body: lines.join('\n') }));
    // Each invocation gets time for about 100 tasks: then its remaining time drops under the margin.
    const deadlineAfter = (checks: number) => {
      let n = 0;
      return fakeContext(() => (++n <= checks ? 60_000 : 500));
    };
    continuations.length = 0;
    let result = await orchestrator({ manifest: `s3://${h.resources.bucket}/${key}` }, deadlineAfter(100));
    const segments: OrchestratorResult[] = [result];
    let duplicateChecked = false;
    while (result.status === 'continued') {
      await invoke.idle();
      const event = continuations.shift();
      expect(event).toMatchObject({ continuation: { jobId: 'streamed', cursor: result.cursor } });
      result = await orchestrator(event, deadlineAfter(100));
      if (!duplicateChecked) {
        // Lambda delivered the same asynchronous event twice: the second delivery does nothing.
        duplicateChecked = true;
        const again = await orchestrator(event, deadlineAfter(100));
        expect(again).toMatchObject({ status: 'duplicate', jobId: 'streamed' });
      }
      segments.push(result);
    }
    expect(segments.length).toBeGreaterThanOrEqual(3);
    expect(result.status).toBe('succeeded');
    if (result.status !== 'succeeded') return;
    expect(result.summary.segments).toBe(segments.length);
    expect(result.summary.counts).toMatchObject({
      read: 303,
      invalid: 3,
      enqueued: 300,
      messages: expect.any(Number),
    });
    const ids = await queuedIds();
    expect(ids.length).toBe(300);
    expect(new Set(ids).size).toBe(300);
    // The result object gathers the parts every invocation wrote.
    const object = await s3.send(
      new GetObjectCommand({ Bucket: h.resources.bucket, Key: result.resultKey! }),
    );
    const records = (await object.Body!.transformToString())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records[0]).toMatchObject({ type: 'summary', segments: segments.length });
    expect(records.filter((r) => r.type === 'invalid').map((r) => [r.line, r.id])).toEqual([
      [302, undefined],
      [303, 'huge'],
      [304, 's5'],
    ]);
  });

  it('moves an inline job too large for an Event payload to the bucket when it must continue', async () => {
    const body = 'p'.repeat(300);
    const tasks = Array.from({ length: 1200 }, (_, i) => ({
      id: `L${i}`,
      url: url(`L${i}`),
      body,
      method: 'POST',
    }));
    expect(Buffer.byteLength(JSON.stringify(tasks))).toBeGreaterThan(256 * 1024);
    continuations.length = 0;
    let n = 0;
    let result = await orchestrator(
      { jobId: 'large', tasks },
      fakeContext(() => (++n <= 500 ? 60_000 : 0)),
    );
    expect(result.status).toBe('continued');
    await invoke.idle();
    const event = continuations.shift() as { continuation: { source: { kind: string; key: string } } };
    expect(event.continuation.source).toMatchObject({
      kind: 's3',
      key: expect.stringMatching(/^continuations\/large\//),
    });
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(4096);
    result = await orchestrator(event, fakeContext());
    expect(result.status).toBe('succeeded');
    const ids = await queuedIds();
    expect(ids.length).toBe(1200);
    expect(new Set(ids).size).toBe(1200);
  });

  it('stops starting work once the failure budget trips, and reports the job failed', async () => {
    const tasks = Array.from({ length: 200 }, (_, i) => ({
      id: `f${i}`,
      url: url(`f${i}`, i % 2 === 0),
      mode: 'inline',
    }));
    const result = await orchestrator({ jobId: 'budget', toleratedFailurePercent: 10, tasks }, fakeContext());
    expect(result.status).toBe('failed');
    if (result.status !== 'failed') return;
    const { summary } = result;
    expect(summary.reason).toBe('failure-budget');
    const finished = summary.counts.inlineSucceeded + summary.counts.inlineFailed;
    // Every second task fails and 8 run at once. With n tasks started and 8 still running, at least
    // n/2 - 8 of the n - 8 finished failed; the budget trips once that is over 10% (4n > 72): by the 19th
    // start at the latest, and no task starts after it trips. The first 8 start before any finishes, and a
    // task that started finishes: at least 8.
    expect(finished).toBeGreaterThanOrEqual(8);
    expect(finished).toBeLessThanOrEqual(19);
    expect(summary.stoppedAtTask).toBe(finished);
    const started = tasks.filter((t) => hits(new URL(t.url).pathname) > 0).length;
    expect(started).toBe(finished);
    expect((await deadLetteredIds()).length).toBe(summary.counts.inlineFailed);
  });
});
