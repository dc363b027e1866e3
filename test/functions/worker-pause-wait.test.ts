// A pause that lands while a worker's task waits in the downstream policy (for a host permit, or for a token
// of the host's rate) stops that task when the wait ends, before its request is sent: a paused run starts no
// new task. It is handed on unstarted, its attempt unspent, like a task the pause stopped before it waited.
// One that lands while a task waits between two of its attempts (a 503's Retry-After) stops the next attempt:
// an operator pauses a run because its partner is failing, and a retry is a request to that partner.
// Real worker handler and ledger on the backend's queue, DLQ and tables; real HTTP servers on 127.0.0.1,
// counted on their side; the rated host's bucket on a fake clock, so it refills only when the test says.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { createDownstream } from '../../lib/downstream/downstream-policy.js';
import { fleetShare } from '../../lib/downstream/host-limits.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import { RUN_CONTROL_MAX_AGE_MS } from '../../lib/ledger/run-control.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { settledCount } from '../helpers/settled-count.js';
import { FakeClock } from '../lib/downstream/fake-clock.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

quietPowertools();

// The fleet: workerMaxConcurrency 2 + invokeConcurrency 1 x 1 orchestrator = 3 worker instances, plus the
// orchestrator: 4 processes, each with a quarter of every declared host's limits.
const PROCESSES = 4;

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

let h: Harness;
/** Declared with maxConcurrency 4 (1 per process). Holds every request while `gate` is set, until it opens. */
let held: http.Server;
let heldUrl: string;
const heldPaths: string[] = [];
let gate: Promise<void> | undefined;
let onArrive: () => void = () => {};
/** Declared with maxRequestsPerSecond 40 (10/s per process, a burst of 1). */
let rated: CountingServer;
/** Answers a task's first request 503 with a Retry-After longer than the container's copy of the run lives. */
let failing: CountingServer;
const RETRY_AFTER_S = 4;
const runtimes: FunctionRuntime[] = [];
let createRuntime: typeof import('../../functions/runtime.js').createRuntime;
let createWorkerHandler: typeof import('../../functions/worker.js').createWorkerHandler;
let seq = 0;

/** Runs `start` holding the held host's requests; once one arrived, what `start` returned and the release. */
async function holdRequests<T>(start: () => T): Promise<{ started: T; release: () => void }> {
  let open = () => {};
  gate = new Promise((resolve) => {
    open = resolve;
  });
  const arrived = new Promise<void>((resolve) => {
    onArrive = resolve;
  });
  const started = start();
  await arrived;
  const release = () => {
    gate = undefined;
    open();
  };
  return { started, release };
}

beforeAll(async () => {
  held = http.createServer((req, res) => {
    heldPaths.push(req.url ?? '');
    onArrive();
    if (gate) void gate.then(() => res.end('ok'));
    else res.end('ok');
  });
  held.listen(0, '127.0.0.1');
  await once(held, 'listening');
  const heldPort = (held.address() as AddressInfo).port;
  heldUrl = `http://127.0.0.1:${heldPort}`;
  rated = await startCountingServer({ delayMs: 1 });
  const seen = new Set<string>();
  failing = await startCountingServer({
    script: (req) => {
      if (seen.has(req.path)) return undefined;
      seen.add(req.path);
      return { status: 503, headers: { 'retry-after': String(RETRY_AFTER_S) } };
    },
  });
  h = await startHarness({
    perInvocationConcurrency: 8,
    workerMaxConcurrency: 2,
    invokeConcurrency: 1,
    orchestratorReservedConcurrency: 1,
    workerReservedConcurrency: 3,
    downstream: {
      [`127.0.0.1:${heldPort}`]: { maxConcurrency: PROCESSES },
      [`127.0.0.1:${rated.port}`]: { maxRequestsPerSecond: 10 * PROCESSES },
    },
  });
  ({ createRuntime } = await import('../../functions/runtime.js'));
  ({ createWorkerHandler } = await import('../../functions/worker.js'));
});

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy()));
  held?.closeAllConnections();
  held?.close();
  await rated?.close();
  await failing?.close();
  h?.destroy();
});

/** A worker container, its downstream policy on `clock` when given, and a run of job `pjob` started. */
async function runningWorker(runId: string, clock?: FakeClock) {
  const base = createRuntime(h.env);
  runtimes.push(base);
  const rt: FunctionRuntime = clock
    ? {
        ...base,
        downstream: createDownstream(base.config.downstream, { share: fleetShare(base.config), clock }),
      }
    : base;
  expect(fleetShare(rt.config)).toBe(1 / PROCESSES);
  const ledger = rt.ledger!;
  await ledger.startRun({
    jobId: 'pjob',
    runId,
    startedAt: Date.now(),
    toleratedFailurePercent: 100,
    overlap: 'allow',
  });
  return { handler: createWorkerHandler(() => rt) as Handler, ledger };
}

function taskMessage(runId: string, tasks: readonly JobTask[]): TaskMessage {
  const key = `pjob:${runId}:${seq++}`;
  return { v: MESSAGE_VERSION, kind: MessageKinds.TASKS, jobId: 'pjob', runId, key, attempt: 1, tasks };
}

const tasksAt = (url: string, prefix: string, n: number): JobTask[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, url: `${url}/${prefix}${i}`, mode: 'queue' }));

/** Delivers `message` as SQS would (sent, then received); resolves when the worker answered. */
async function deliver(handler: Handler, message: TaskMessage): Promise<SQSBatchResponse> {
  const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
  await h.sqs.send(
    new SendMessageCommand({ QueueUrl: h.resources.queueUrl, MessageBody: JSON.stringify(message) }),
  );
  const received = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(received).toHaveLength(1);
  return (await handler(sqsEvent(received), fakeContext())) as SQSBatchResponse;
}

/** What the worker sent on, as [key, attempt, task ids], and what reached the DLQ. */
async function sentOn() {
  const messages = await drainQueue(h.sqs, h.resources.queueUrl);
  const dead = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
  const queued = messages.map((m) => JSON.parse(m.Body!) as TaskMessage);
  return { queued: queued.map((m) => [m.key, m.attempt, m.tasks.map((t) => t.id)]), dead: dead.length };
}

describe('a pause while a task waits in the downstream policy', () => {
  it('a task that waited for a host permit is not sent once the run is paused: handed on, its attempt unspent', async () => {
    const { handler, ledger } = await runningWorker('permit');
    // Three tasks to a host with one permit per process: p0 takes it and is held; p1 and p2 wait for it.
    const message = taskMessage('permit', tasksAt(`${heldUrl}/hold`, 'p', 3));
    const { started: done, release } = await holdRequests(() => deliver(handler, message));
    await ledger.setStatus('pjob', 'permit', { status: 'paused', from: ['running'] });
    // The container's copy of the record ages out (not an assertion): the next look at it reads the pause.
    await sleep(RUN_CONTROL_MAX_AGE_MS + 100);
    release();
    expect((await done).batchItemFailures).toEqual([]);
    expect(heldPaths).toEqual(['/hold/p0']);
    expect(await sentOn()).toEqual({ queued: [[`${message.key}~1`, 1, ['p1', 'p2']]], dead: 0 });
    expect(await ledger.getRun('pjob', 'permit')).toMatchObject({
      status: 'paused',
      succeeded: 1,
      deadLettered: 0,
      cancelled: 0,
    });
  });

  it('a task that waited for a rate token is not sent once the run is paused: handed on, its attempt unspent', async () => {
    const clock = new FakeClock();
    const { handler, ledger } = await runningWorker('rate', clock);
    // Four tasks to a host of 10/s per process, a burst of 1: r0 goes at once, the others wait for tokens.
    const message = taskMessage('rate', tasksAt(rated.url, 'rt', 4));
    const done = deliver(handler, message);
    const hits = () => rated.requests.filter((r) => r.path.startsWith('/rt')).length;
    expect(await settledCount(hits, 1)).toBe(1);
    await ledger.setStatus('pjob', 'rate', { status: 'paused', from: ['running'] });
    await sleep(RUN_CONTROL_MAX_AGE_MS + 100); // the container's copy of the record ages out (not an assertion)
    // A token every 100 ms on the fake clock: each waiting task gets one in turn, until the worker answers.
    let answered = false;
    void done.finally(() => {
      answered = true;
    });
    for (let step = 0; step < 100 && !answered; step++) {
      clock.advance(100);
      await sleep(20);
    }
    expect((await done).batchItemFailures).toEqual([]);
    expect(hits()).toBe(1);
    expect(await sentOn()).toEqual({ queued: [[`${message.key}~1`, 1, ['rt1', 'rt2', 'rt3']]], dead: 0 });
    expect(await ledger.getRun('pjob', 'rate')).toMatchObject({
      status: 'paused',
      succeeded: 1,
      deadLettered: 0,
    });
  });
});

describe('a pause while a task waits between its attempts', () => {
  it('the retry is not sent once the run is paused: the task is handed on, its delivery unspent', async () => {
    const { handler, ledger } = await runningWorker('retry');
    const message = taskMessage('retry', tasksAt(failing.url, 'rx', 1));
    const done = deliver(handler, message);
    const hits = () => failing.requests.filter((r) => r.path === '/rx0').length;
    // The first attempt was answered 503 with a Retry-After of 4 s; the pause lands during that wait, and the
    // container's copy of the record (read at the message's start) is over 2 s old when the wait ends.
    expect(await settledCount(hits, 1)).toBe(1);
    await ledger.setStatus('pjob', 'retry', { status: 'paused', from: ['running'] });
    expect((await done).batchItemFailures).toEqual([]);
    expect(hits()).toBe(1);
    expect(await sentOn()).toEqual({ queued: [[`${message.key}~1`, 1, ['rx0']]], dead: 0 });
    expect(await ledger.getRun('pjob', 'retry')).toMatchObject({
      status: 'paused',
      succeeded: 0,
      deadLettered: 0,
      cancelled: 0,
    });
  });

  it('the retry is not sent once the run is cancelled: the task ends cancelled, counted once', async () => {
    const { handler, ledger } = await runningWorker('retry-cancel');
    const message = taskMessage('retry-cancel', tasksAt(failing.url, 'rc', 1));
    const done = deliver(handler, message);
    const hits = () => failing.requests.filter((r) => r.path === '/rc0').length;
    expect(await settledCount(hits, 1)).toBe(1);
    await ledger.setStatus('pjob', 'retry-cancel', { status: 'cancelled', from: ['running'] });
    expect((await done).batchItemFailures).toEqual([]);
    expect(hits()).toBe(1);
    expect(await sentOn()).toEqual({ queued: [], dead: 0 });
    expect(await ledger.getRun('pjob', 'retry-cancel')).toMatchObject({ cancelled: 1, succeeded: 0 });
  });
});
