import { S3Client } from '@aws-sdk/client-s3';
import { type Message, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { IdempotencyModes } from '../../lib/config.js';
import { readDeadLetterBody } from '../../lib/fanout/messages.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import { redrive } from '../../local/cli/commands/redrive.js';
import { queueDepth } from '../../local/queue-depth.js';
import { localCredentials } from '../../local/resources.js';
import { pathCounts } from '../helpers/path-counts.js';
import { type Containers, startContainers, type Worker } from './containers.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent } from './harness.js';
import { counts, resultLines as resultOf } from './run-outcome.js';
import { atPart, atSettle, orchestratorCopy as copyIn, type Gate } from './segment-copy-gates.js';

// Two copies of one segment (a retried invocation running beside the first, as after a timeout), through the
// real handlers against the backend's queues, tables and bucket and a real HTTP target on 127.0.0.1 counting
// requests per task. Copy A runs first: task `x` answers its first request 404, so A dead-letters it, and `y`
// fails for good in both copies. A's settle is held until copy B has run and settled: B's settle counts (x
// succeeded in B, y dead-lettered) and ends the run. A's dead letters (x and y) and its result part are a
// loser's: its counts never landed. A redrive of the DLQ must run only B's dead letter of y: A's are dropped
// (deleted, not run, not counted), so the counts stay exact and x is not run again; the result object lists
// only B's dead letter.

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let ledger: JobLedger;
let s3: S3Client;
let worker: Worker;
const runtimes: FunctionRuntime[] = [];
/** `/fixable/` paths answer 404 while this is true. */
let broken = true;
const nth = pathCounts();

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => {
    const n = nth(req.path);
    if (req.path.includes('/first404/') && n === 1) return { status: 404 };
    if (req.path.includes('/notfirst/') && n > 1 && broken) return { status: 404 };
    if (req.path.includes('/fixable/') && broken) return { status: 404 };
    return undefined;
  });
  c = await startContainers({ perInvocationConcurrency: 4, deadlineMarginMs: 1000 });
  ({ h, ledger } = c);
  worker = c.workerOf(c.container(IdempotencyModes.MESSAGE));
  s3 = new S3Client({ region: 'us-east-1', credentials: localCredentials, forcePathStyle: true });
});

afterAll(async () => {
  for (const rt of runtimes) await rt.destroy();
  await c?.destroy();
  await server?.close();
  s3?.destroy();
});

const orchestratorCopy = (...gates: Gate[]) => copyIn(h, runtimes, ...gates);
const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;
const url = (id: string, kind: string) => `${server.url}/${kind}/${id}`;

/**
 * Copies A and B of one segment, B's settle first: A runs and stops before writing its result part; B runs and
 * stops at its settle (its part written); A writes its part (the same name as B's, without copy ids) and stops
 * at its settle; B settles, counted, and ends the run; A settles, not counted. The DLQ's bodies from each.
 */
async function twoCopies(event: object) {
  const aPart = atPart();
  const aSettle = atSettle();
  const bSettle = atSettle();
  const copyA = await orchestratorCopy(aPart, aSettle);
  const copyB = await orchestratorCopy(bSettle);
  const a = copyA(event, fakeContext());
  await aPart.reached;
  const fromA = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
  const b = copyB(event, fakeContext());
  await bSettle.reached;
  const fromB = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
  aPart.release();
  await aSettle.reached;
  bSettle.release();
  const bResult = await b;
  aSettle.release();
  return { a: await a, b: bResult, fromA, fromB };
}

const deadIds = (messages: readonly Message[]) =>
  messages.flatMap((m) => {
    const read = readDeadLetterBody(m.Body ?? '');
    return read.kind === 'dead-letter' ? read.message.tasks.map((t) => t.task.id) : [];
  });

const resultLines = (record: RunRecord) => resultOf(s3, h.resources.bucket, record);

/** Hands what the work queue holds to the worker until it is empty. */
async function drain(): Promise<void> {
  await c.drain(worker);
}

describe('a segment run twice: the losing copy’s dead letters and result lines', () => {
  it('a redrive drops the loser’s dead letters: counts exact, x not run again, DLQ empty, result lists the winner’s only', async () => {
    broken = true;
    await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    const tasks = [
      { id: 'x', url: url('x', 'first404'), mode: 'inline' },
      { id: 'y', url: url('y', 'notfirst'), mode: 'inline' },
      { id: 'z', url: url('z', 'ok'), mode: 'inline' },
    ];
    const event = { jobId: 'copies', runId: 'r1', tasks, toleratedFailurePercent: 100 };
    const { b, fromA, fromB } = await twoCopies(event);
    expect(b).toMatchObject({ status: 'succeeded' });
    expect(deadIds(fromA)).toEqual(['x']);
    expect(deadIds(fromB)).toEqual(['y']);
    // B's settle counted and ended the run: x succeeded (B's run of it), y dead-lettered.
    const ended = await ledger.getRun('copies', 'r1');
    expect(counts(ended)).toEqual({
      submitted: 3,
      succeeded: 2,
      deadLettered: 1,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    const dead = (await resultLines(ended!)).filter((l) => l.type === 'dead-letter');
    expect(dead.map((l) => (l.task as { id: string }).id)).toEqual(['y']);

    // Both copies' dead letters back in the DLQ, then redriven; the partner fixed.
    const all = [...fromA, ...fromB].map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' }));
    await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.deadLetterQueueUrl, Entries: all }));
    broken = false;
    const moved = await redrive({
      sqs: h.sqs,
      queueUrl: h.resources.queueUrl,
      deadLetterQueueUrl: h.resources.deadLetterQueueUrl,
    });
    expect(moved.moved).toBe(2);
    await drain();
    // x: A's 404, B's 200; never again. y: A's 200, B's 404, B's dead letter redriven: 200.
    expect({ x: hits('x'), y: hits('y'), z: hits('z') }).toEqual({ x: 2, y: 3, z: 2 });
    expect(counts(await ledger.getRun('copies', 'r1'))).toEqual({
      submitted: 3,
      succeeded: 3,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
  });

  it('a dead letter of a segment no copy has settled yet goes back to the DLQ: not run, not counted', async () => {
    broken = true;
    await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    const tasks = [{ id: 'u', url: url('u', 'fixable'), mode: 'inline' }];
    const settle = atSettle();
    const copy = await orchestratorCopy(settle);
    const event = { jobId: 'unsettled', runId: 'r1', tasks, toleratedFailurePercent: 100 };
    const running = copy(event, fakeContext());
    await settle.reached;
    // Redriven while the segment is still to settle: whichever copy settles it decides whether it counts.
    const early = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    expect(deadIds(early)).toEqual(['u']);
    broken = false;
    const Entries = early.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' }));
    await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries }));
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    const answer = await worker(sqsEvent(messages), fakeContext());
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(hits('u')).toBe(1);
    const back = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    expect(back.map((m) => m.Body)).toEqual(early.map((m) => m.Body));
    // The segment settles now (u dead-lettered); the dead letter, redriven again, runs and moves.
    settle.release();
    await running;
    expect(counts(await ledger.getRun('unsettled', 'r1'))).toMatchObject({ succeeded: 0, deadLettered: 1 });
    const again = back.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' }));
    await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries: again }));
    await drain();
    expect(hits('u')).toBe(2);
    expect(counts(await ledger.getRun('unsettled', 'r1'))).toMatchObject({
      submitted: 1,
      succeeded: 1,
      deadLettered: 0,
    });
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl, { keep: true })).toEqual([]);
  });

  it('a paused chunk’s hand-off of the losing copy is dropped; of a segment not settled yet it goes back to the work queue', async () => {
    // The run of the first test: its segment 0 settled by copy B. Hand-offs as pausedPacket makes them.
    const marker = await ledger.settledMarker('copies', 'r1', 'segment:0');
    const winner = (marker?.state as { copy?: string } | undefined)?.copy;
    expect(winner).toMatch(/^[0-9a-f]{12}$/);
    const handOff = (segment: number, id: string, task: string) => ({
      v: 1,
      kind: 'tasks',
      jobId: 'copies',
      runId: 'r1',
      key: `copies:r1:0@${id}~1`,
      attempt: 1,
      copy: { segment, id },
      tasks: [{ id: task, url: url(task, 'ok'), mode: 'invoke' }],
    });
    const before = counts(await ledger.getRun('copies', 'r1'));
    const Entries = [handOff(0, 'feedfacefeed', 'h-lost'), handOff(9, 'feedfacefeed', 'h-open')].map(
      (m, i) => ({
        Id: String(i),
        MessageBody: JSON.stringify(m),
      }),
    );
    await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries }));
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    expect(await worker(sqsEvent(messages), fakeContext())).toEqual({ batchItemFailures: [] });
    expect({ lost: hits('h-lost'), open: hits('h-open') }).toEqual({ lost: 0, open: 0 });
    expect(counts(await ledger.getRun('copies', 'r1'))).toEqual(before);
    // The unsettled one is back, delayed pauseRecheckSeconds (10 s: counted, not read); the lost one is gone.
    expect(await queueDepth(h.sqs, h.resources.queueUrl)).toMatchObject({ total: 1 });
  });
});
