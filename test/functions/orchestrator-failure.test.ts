// An orchestrator segment that fails its every attempt, through the real handlers (functions/orchestrator-failure.ts):
// the orchestrator and the worker against the backend's real queue, tables and bucket, a real HTTP target on
// 127.0.0.1 counting requests per task, and Lambda's on-failure record handed to the worker as Lambda would. Before,
// the run stayed `running` for ever (and under `forbid` every later run of the job was skipped); now it fails with
// reason `orchestrator-failed` and ends once every task anyone counted has ended, with exact counts: the tasks
// the dead segment had queued count submitted as the workers settle them, before the break or after it.
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { type Message, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountingServer } from '../../bench/servers/counting-server.js';
import { RunOrigins } from '../../lib/aws/run-origins.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { RunReasons, type RunRecord } from '../../lib/ledger/run-record.js';
import { settledCount } from '../../lib/ledger/run-rules.js';
import { failureRecord } from '../../local/async-destinations.js';
import type { Edge } from '../../local/edge.js';
import type { InvokeServer } from '../../local/invoke-server.js';
import { queueDepth } from '../../local/queue-depth.js';
import { type ContinuingHandlers, startContinuingHandlers } from './continuing-handlers.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent } from './harness.js';

quietPowertools();

let c: ContinuingHandlers;
let h: Harness;
let server: CountingServer;
let ledger: JobLedger;
let invoke: InvokeServer;
let events: Edge;
let continuations: unknown[];
let orchestrator: ContinuingHandlers['orchestrator'];
let worker: ContinuingHandlers['worker'];

beforeAll(async () => {
  c = await startContinuingHandlers('brk-orchestrator', { tasksPerMessage: 5 });
  ({ h, server, ledger, invoke, events, continuations, orchestrator, worker } = c);
});

afterAll(() => c?.destroy());

const hitsOf = (id: string) => server.requests.filter((r) => r.path === `/${id}`).length;
const queued = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: `${server.url}/${prefix}${i}`,
    mode: 'queue',
  }));

/** A context with time for `checks` looks at the clock, then under the margin: the segment continues. */
const deadlineAfter = (checks: number) => {
  let n = 0;
  return fakeContext(() => (++n <= checks ? 60_000 : 500));
};

/** A context that kills the invocation at its `checks`+1st look at the clock, as a crash mid-segment would. */
const crashAfter = (checks: number, requestId?: string) => {
  let n = 0;
  return fakeContext(() => {
    if (++n > checks) throw new Error('Runtime.ExitError: simulated crash mid-segment');
    return 60_000;
  }, requestId);
};

/** What the work queue holds now, received and deleted (the test hands it on later, as SQS would). */
async function takeQueue(): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const batch = await drainQueue(h.sqs, h.resources.queueUrl);
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

async function deliver(messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10)
    await worker(sqsEvent(messages.slice(i, i + 10)), fakeContext());
}

const segmentOf = (m: Message) => (JSON.parse(m.Body!) as { segment?: number }).segment;
const tasksIn = (ms: readonly Message[]) =>
  ms.flatMap((m) => (JSON.parse(m.Body!) as { tasks: { id: string }[] }).tasks.map((t) => t.id));

/** One message per key: every attempt of a segment sent the same keys, and the ledger counts each key once. */
const onePerKey = (ms: readonly Message[]) => [
  ...new Map(ms.map((m) => [(JSON.parse(m.Body!) as { key: string }).key, m])).values(),
];

/** A first segment whose every attempt (Lambda's three, one request id) crashes mid-way; Lambda's report of it. */
async function crashedThrice(event: unknown, requestId: string) {
  for (let attempt = 0; attempt < 3; attempt++) {
    await expect(orchestrator(event, crashAfter(120, requestId))).rejects.toThrow('simulated crash');
  }
  const error = new Error('simulated crash');
  return failureRecord({ functionName: 'brk-orchestrator', payload: event, requestId, error, attempts: 3 });
}

describe('an orchestrator segment that fails for good', () => {
  it('breaks the run: it fails, every task counted once, the dead segment’s queued tasks counted as they settle', async () => {
    const jobId = 'brk-a';
    continuations.length = 0;
    // Segment 0 reads about 20 tasks, then continues.
    const first = await orchestrator({ jobId, runId: 'r1', tasks: queued('a', 200) }, deadlineAfter(20));
    expect(first.status).toBe('continued');
    await invoke.idle();
    const continuation = continuations.shift();
    const zero = await takeQueue();
    expect(new Set(zero.map(segmentOf))).toEqual(new Set([0]));

    // Segment 1 dies mid-way, every attempt (Lambda's three), after queuing some of its tasks.
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(orchestrator(continuation, crashAfter(120))).rejects.toThrow('simulated crash');
    }
    const one = await takeQueue();
    expect(one.length).toBeGreaterThan(1);
    expect(new Set(one.map(segmentOf))).toEqual(new Set([1]));
    // Its copies sent the same keys: one message per key is what SQS would deliver after the dedup of settles.
    const byKey = new Map(one.map((m) => [(JSON.parse(m.Body!) as { key: string }).key, m]));
    const dead = [...byKey.values()];
    const before = dead.slice(0, Math.ceil(dead.length / 2));
    const after = dead.slice(before.length);

    // The workers settle segment 0's messages and half of segment 1's before Lambda gives up.
    await deliver([...zero, ...before]);
    const running = (await ledger.getRun(jobId, 'r1'))!;
    expect(running.status).toBe('running');
    expect(settledCount(running)).toBeGreaterThan(running.submitted);

    const record = failureRecord({
      functionName: 'brk-orchestrator',
      payload: continuation,
      requestId: 'req-1',
      error: new Error('Runtime.ExitError: simulated crash mid-segment'),
      attempts: 3,
    });
    const answer = await worker(record, fakeContext());
    expect(answer).toMatchObject({ broken: true, jobId, runId: 'r1', segment: 1 });
    const cursor = (continuation as { continuation: { cursor: number } }).continuation.cursor;
    const brokenRecord = (await ledger.getRun(jobId, 'r1'))!;
    expect(brokenRecord).toMatchObject({
      status: 'failed',
      reason: RunReasons.ORCHESTRATOR_FAILED,
      brokenSegment: 1,
      manifestDone: true,
      adopted: tasksIn(before).length,
      submitted: cursor + tasksIn(before).length,
    });
    expect(brokenRecord.detail).toContain(`orchestrator segment 1 (the manifest from task ${cursor})`);
    expect(brokenRecord.detail).toContain('simulated crash mid-segment');
    // Every task counted so far has ended: the break itself ended the run.
    expect(brokenRecord.finishedAt).toBeGreaterThan(0);

    // The rest of segment 1's messages arrive after the end: not run (the run failed), counted cancelled and
    // submitted alike.
    await deliver(after);
    const final = (await ledger.getRun(jobId, 'r1'))!;
    const counted = cursor + tasksIn(dead).length;
    expect(final).toMatchObject({ submitted: counted, cancelled: tasksIn(after).length, deadLettered: 0 });
    expect(settledCount(final)).toBe(final.submitted);
    // Each task that ran reached its host once; the cancelled ones never did; nothing past segment 1 was read.
    for (const id of [...tasksIn(zero), ...tasksIn(before)]) expect(hitsOf(id)).toBe(1);
    for (const id of tasksIn(after)) expect(hitsOf(id)).toBe(0);
    expect(final.succeeded).toBe(tasksIn(zero).length + tasksIn(before).length);
    const finished = events.eventBus.events.filter(
      (e) => e.source === 'bounded-fanout' && (e.detail as RunRecord).jobId === jobId,
    );
    expect(finished).toHaveLength(1);
    expect(finished[0].detail).toMatchObject({ status: 'failed', reason: RunReasons.ORCHESTRATOR_FAILED });

    // The failed event redriven from the orchestrator's DLQ reads nothing: its tasks are counted already.
    await expect(orchestrator(continuation, fakeContext())).resolves.toMatchObject({
      status: 'broken',
      segment: 1,
    });
    expect(await takeQueue()).toEqual([]);
    // Lambda's report delivered twice changes nothing.
    await expect(worker(record, fakeContext())).resolves.toMatchObject({ broken: false, status: 'failed' });
    expect(await ledger.getRun(jobId, 'r1')).toEqual(final);

    // A paused chunk's hand-off of a dead copy of segment 1 is dropped, not run or counted: each dead copy
    // handed off its own, so running them could count one task twice. One of a segment not broken (9, not
    // settled yet) still goes round the queue, as before.
    const handOff = (segment: number, task: string) => ({
      v: 1,
      kind: 'tasks',
      jobId,
      runId: 'r1',
      key: `${jobId}:r1:900@feedfacefeed~1`,
      attempt: 1,
      copy: { segment, id: 'feedfacefeed' },
      segment,
      tasks: [{ id: task, url: `${server.url}/${task}`, mode: 'invoke' }],
    });
    const bodies = [handOff(1, 'h-dead'), handOff(9, 'h-open')].map((m) => JSON.stringify(m));
    for (const body of bodies)
      await h.sqs.send(new SendMessageCommand({ QueueUrl: h.resources.queueUrl, MessageBody: body }));
    const handOffs = await takeQueue();
    await deliver(handOffs);
    expect({ dead: hitsOf('h-dead'), open: hitsOf('h-open') }).toEqual({ dead: 0, open: 0 });
    expect(await ledger.getRun(jobId, 'r1')).toEqual(final);
    expect(await queueDepth(h.sqs, h.resources.queueUrl)).toMatchObject({ total: 1 });

    // A dead copy's own dead letter, redriven: never counted, so neither run nor dropped: back to the DLQ.
    await drainQueue(h.sqs, h.resources.queueUrl);
    await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    const deadLetter = {
      v: 1,
      kind: 'dead-letter',
      jobId,
      runId: 'r1',
      source: 'orchestrator',
      copy: { segment: 1, id: 'feedfacefeed' },
      tasks: [
        { task: { id: 'd-dead', url: `${server.url}/d-dead`, mode: 'inline' }, attempts: 1, error: 'x' },
      ],
    };
    const body = JSON.stringify(deadLetter);
    await h.sqs.send(new SendMessageCommand({ QueueUrl: h.resources.queueUrl, MessageBody: body }));
    await deliver(await takeQueue());
    expect(hitsOf('d-dead')).toBe(0);
    expect(await ledger.getRun(jobId, 'r1')).toEqual(final);
    const back = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    expect(back.map((m) => m.Body)).toEqual([body]);
  });

  it('a first segment that fails for good breaks the run its request id named', async () => {
    const requestId = 'sched-req-1';
    const event = { jobId: 'brk-b', tasks: queued('b', 150) };
    // Lambda's retries of one event keep its request id, so every attempt is the same run.
    const record = await crashedThrice(event, requestId);
    const sent = onePerKey(await takeQueue());
    expect(await worker(record, fakeContext())).toMatchObject({
      broken: true,
      jobId: 'brk-b',
      runId: requestId,
    });
    await deliver(sent);
    const final = (await ledger.getRun('brk-b', requestId))!;
    expect(final).toMatchObject({
      status: 'failed',
      reason: RunReasons.ORCHESTRATOR_FAILED,
      brokenSegment: 0,
      submitted: tasksIn(sent).length,
      // Delivered after the break: the run had failed, so they were not run.
      cancelled: tasksIn(sent).length,
      succeeded: 0,
    });
    for (const id of tasksIn(sent)) expect(hitsOf(id)).toBe(0);
    expect(final.finishedAt).toBeGreaterThan(0);
  });

  it('a segment that settled before its every attempt failed is not broken: its next segment is sent again, once run', async () => {
    const jobId = 'brk-c';
    continuations.length = 0;
    const event = { jobId, runId: 'r1', tasks: queued('c', 40) };
    expect((await orchestrator(event, deadlineAfter(20))).status).toBe('continued');
    await invoke.idle();
    const sent = continuations.splice(0);
    expect(sent).toHaveLength(1);
    // Lambda reports segment 0 failed for good (say each attempt failed after its settle, the Invoke refused).
    const error = new Error('TooManyRequestsException: Rate Exceeded');
    const record = failureRecord({
      functionName: 'brk-orchestrator',
      payload: event,
      requestId: 'req-c',
      error,
      attempts: 3,
    });
    expect(await worker(record, fakeContext())).toEqual({
      broken: false,
      jobId,
      runId: 'r1',
      segment: 0,
      continued: 1,
    });
    await invoke.idle();
    // The same continuation as the settle kept.
    expect(continuations.splice(0)).toEqual(sent);
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ status: 'running', manifestDone: false });
    // Both deliveries of segment 1: one runs it, the other finds it run.
    const statuses = [];
    for (const c of [sent[0], sent[0]]) statuses.push((await orchestrator(c, fakeContext())).status);
    expect(statuses).toEqual(['succeeded', 'duplicate']);
    await deliver(await takeQueue());
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({
      status: 'succeeded',
      submitted: 40,
      succeeded: 40,
    });
    for (let i = 0; i < 40; i++) expect(hitsOf(`c${i}`)).toBe(1);
  });

  it('a first segment whose manifest was deleted before the report still breaks its run (named by its key)', async () => {
    const key = 'manifests/brk-gone.json';
    const s3 = c.runtime.aws.s3;
    const Bucket = h.resources.bucket;
    // No job id in the file: the job is named after its key, as the orchestrator names it.
    await s3.send(
      new PutObjectCommand({ Bucket, Key: key, Body: JSON.stringify({ tasks: queued('g', 150) }) }),
    );
    const event = { manifest: `s3://${Bucket}/${key}` };
    const requestId = 'sched-req-gone';
    const record = await crashedThrice(event, requestId);
    await s3.send(new DeleteObjectCommand({ Bucket, Key: key }));
    expect(await worker(record, fakeContext())).toMatchObject({
      broken: true,
      jobId: 'brk-gone',
      runId: requestId,
    });
    const sent = onePerKey(await takeQueue());
    await deliver(sent);
    expect(await ledger.getRun('brk-gone', requestId)).toMatchObject({
      status: 'failed',
      reason: RunReasons.ORCHESTRATOR_FAILED,
      submitted: tasksIn(sent).length,
      cancelled: tasksIn(sent).length,
    });
  });

  it('a first segment whose deleted manifest named its own job and run ids still breaks that run (noted by request)', async () => {
    const key = 'manifests/brk-file.json';
    const s3 = c.runtime.aws.s3;
    const Bucket = h.resources.bucket;
    const body = { jobId: 'brk-named', runId: 'nightly-7', tasks: queued('n', 150) };
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: JSON.stringify(body) }));
    const event = { manifest: `s3://${Bucket}/${key}` };
    const requestId = 'sched-req-named';
    const record = await crashedThrice(event, requestId);
    await s3.send(new DeleteObjectCommand({ Bucket, Key: key }));
    // Before, the report named the run after the key and the request id (brk-file / sched-req-named), found no
    // such run, and `brk-named` stayed running for ever.
    expect(await worker(record, fakeContext())).toMatchObject({
      broken: true,
      jobId: 'brk-named',
      runId: 'nightly-7',
    });
    const sent = onePerKey(await takeQueue());
    await deliver(sent);
    expect(await ledger.getRun('brk-named', 'nightly-7')).toMatchObject({
      status: 'failed',
      reason: RunReasons.ORCHESTRATOR_FAILED,
      submitted: tasksIn(sent).length,
      cancelled: tasksIn(sent).length,
    });
    // The origin is noted for every first S3 segment, with the version of the file its request read.
    const origins = new RunOrigins(c.runtime.aws.dynamodb, { tableName: h.resources.jobTable });
    expect(await origins.of(requestId)).toEqual({
      jobId: 'brk-named',
      runId: 'nightly-7',
      etag: expect.stringMatching(/^".+"$/),
    });
    expect(await origins.of('sched-req-gone')).toMatchObject({ jobId: 'brk-gone', runId: 'sched-req-gone' });
  });

  it('a first segment whose manifest was replaced since (the next night’s ids) breaks the run its request began', async () => {
    const key = 'manifests/brk-fixed.json';
    const s3 = c.runtime.aws.s3;
    const Bucket = h.resources.bucket;
    const night = (runId: string) => ({ jobId: 'brk-fixed', runId, tasks: queued(`${runId}-`, 150) });
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: JSON.stringify(night('night-7')) }));
    const event = { manifest: `s3://${Bucket}/${key}` };
    const record = await crashedThrice(event, 'sched-req-fixed');
    // A schedule at a fixed key: the file is rewritten for the next night before Lambda's report is handled.
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: JSON.stringify(night('night-8')) }));
    // Before, the report read the new file's header, named `night-8` (no such run: nothing broken), and
    // `night-7` stayed running for ever, every later run of the job skipped under forbid.
    expect(await worker(record, fakeContext())).toMatchObject({
      broken: true,
      jobId: 'brk-fixed',
      runId: 'night-7',
    });
    await deliver(onePerKey(await takeQueue()));
    expect(await ledger.getRun('brk-fixed', 'night-7')).toMatchObject({
      status: 'failed',
      reason: RunReasons.ORCHESTRATOR_FAILED,
    });
    expect(await ledger.getRun('brk-fixed', 'night-8')).toBeUndefined();
  });

  it('a retry that reads the file rewritten since starts nothing and fails; the report breaks the run the request began', async () => {
    const key = 'manifests/brk-retry.json';
    const s3 = c.runtime.aws.s3;
    const Bucket = h.resources.bucket;
    const put = (body: unknown) =>
      s3.send(new PutObjectCommand({ Bucket, Key: key, Body: JSON.stringify(body) }));
    // The first file names no ids (the run is the key's job and the request's id); the second names its own.
    await put({ tasks: queued('old', 150) });
    const event = { manifest: `s3://${Bucket}/${key}` };
    const requestId = 'sched-req-retry';
    await expect(orchestrator(event, crashAfter(120, requestId))).rejects.toThrow('simulated crash');
    await put({ jobId: 'brk-retry', runId: 'night-8', tasks: queued('new', 150) });
    // Lambda's two retries of the request read the new file. Before, the first started night-8 beside the
    // run the request began (brk-retry/sched-req-retry), which stayed running for ever.
    for (let retry = 0; retry < 2; retry++) {
      await expect(
        orchestrator(
          event,
          fakeContext(() => 60_000, requestId),
        ),
      ).rejects.toThrow(
        /^manifest: changed since request sched-req-retry began run brk-retry\/sched-req-retry/,
      );
    }
    expect(await ledger.getRun('brk-retry', 'night-8')).toBeUndefined();
    const record = failureRecord({
      functionName: 'brk-orchestrator',
      payload: event,
      requestId,
      error: new Error('manifest: changed since request sched-req-retry began run brk-retry/sched-req-retry'),
      attempts: 3,
    });
    expect(await worker(record, fakeContext())).toMatchObject({
      broken: true,
      jobId: 'brk-retry',
      runId: requestId,
    });
    const sent = onePerKey(await takeQueue());
    expect(tasksIn(sent).every((id) => id.startsWith('old'))).toBe(true);
    await deliver(sent);
    expect(await ledger.getRun('brk-retry', requestId)).toMatchObject({
      status: 'failed',
      reason: RunReasons.ORCHESTRATOR_FAILED,
      submitted: tasksIn(sent).length,
      cancelled: tasksIn(sent).length,
    });
    for (let i = 0; i < 150; i++) expect(hitsOf(`new${i}`)).toBe(0);
  });

  it('a failure record for a job the orchestrator refused, or one it cannot read, breaks nothing', async () => {
    const bad = failureRecord({
      functionName: 'brk-orchestrator',
      payload: { jobId: 'has:colon', tasks: [] },
      requestId: 'req-bad',
      error: new Error('x'),
      attempts: 3,
    });
    await expect(worker(bad, fakeContext())).resolves.toEqual({ broken: false });
    // A segment of a run the ledger has no record of: nothing to break.
    const stray = failureRecord({
      functionName: 'brk-orchestrator',
      payload: { jobId: 'brk-none', runId: 'r9', tasks: queued('n', 1) },
      requestId: 'req-stray',
      error: new Error('x'),
      attempts: 3,
    });
    await expect(worker(stray, fakeContext())).resolves.toMatchObject({ broken: false, jobId: 'brk-none' });
    expect(await ledger.getRun('brk-none', 'r9')).toBeUndefined();
  });
});
