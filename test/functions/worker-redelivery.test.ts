import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, type IdempotencyMode, IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import { Edge } from '../../local/edge.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

// Two deliveries of one SQS message with different outcomes, through the real worker handler, each in its
// own container (runtime), against the backend's real queue, DLQ and tables and a real HTTP target on
// 127.0.0.1 that counts requests per task. A message's follow-ups (the retry of a failed task, the hand-on
// of an unstarted one) must never count a task the other delivery counted: whichever delivery settles the
// message first decides its follow-ups, and a delivery that dies between its settle and its follow-ups
// leaves them to the next delivery (docs/ledger.md, "A message delivered twice").

quietPowertools();

let h: Harness;
let server: CountingServer;
let events: Edge;
let ledger: JobLedger;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;
let createRuntime: (env: NodeJS.ProcessEnv) => FunctionRuntime;
let createWorkerHandler: (rt: () => FunctionRuntime) => unknown;
const runtimes: FunctionRuntime[] = [];
/** `/flip/` paths answer 503 (retryable) while this is true, then 200. */
let flipFails = true;

type Worker = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => (req.path.includes('/flip/') && flipFails ? { status: 503 } : undefined));
  h = await startHarness({ perInvocationConcurrency: 4, maxReceiveCount: 3, deadlineMarginMs: 1000 });
  events = await Edge.start({ upstreams: {}, listen: { host: '127.0.0.1', port: 0 } });
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = events.url;
  h.env.AWS_ENDPOINT_URL_EVENTBRIDGE = events.url;
  ({ createRuntime } = await import('../../functions/runtime.js'));
  ({ createWorkerHandler } = await import('../../functions/worker.js'));
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  const runtime = container(IdempotencyModes.MESSAGE);
  orchestrator = createOrchestratorHandler(() => runtime) as typeof orchestrator;
  ledger = runtime.ledger!;
});

afterAll(async () => {
  for (const rt of runtimes) await rt.destroy();
  await events?.close();
  await server?.close();
  h?.destroy();
});

/** A worker container of its own: its clients, its caches, its idempotency mode. */
function container(idempotency: IdempotencyMode): FunctionRuntime {
  const rt = createRuntime({ ...h.env, [EnvVars.CONFIG]: JSON.stringify({ ...h.config, idempotency }) });
  runtimes.push(rt);
  return rt;
}

function workerOf(rt: FunctionRuntime): Worker {
  return createWorkerHandler(() => rt) as Worker;
}

/**
 * Runs `before` ahead of each of the container's calls named by `command` (a regular expression on the
 * command's name), for the first `times` calls: the test's hook into "between the settle and the sends".
 */
function onCommand(
  rt: FunctionRuntime,
  client: 'dynamodb' | 'sqs',
  command: RegExp,
  before: () => Promise<void> | void,
  times = 1,
): void {
  let seen = 0;
  (rt.aws[client].middlewareStack as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        if (command.test(context.commandName ?? '') && seen++ < times) await before();
        return next(args);
      },
    { step: 'initialize', name: `hook${Math.random()}` },
  );
}

const url = (id: string, kind = '') => `${server.url}/${kind ? `${kind}/` : ''}${id}`;

/** Starts a run of `ok` tasks that always succeed and one `/flip/` task; returns its one queue message. */
async function oneMessage(jobId: string, ok: number): Promise<Message> {
  const tasks = [
    ...Array.from({ length: ok }, (_, i) => ({
      id: `${jobId}-ok${i}`,
      url: url(`${jobId}-ok${i}`),
      mode: 'queue',
    })),
    { id: `${jobId}-flip`, url: url(`${jobId}-flip`, 'flip'), mode: 'queue' },
  ];
  flipFails = true;
  await orchestrator({ jobId, runId: 'r1', tasks }, fakeContext());
  const messages = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(messages).toHaveLength(1);
  return messages[0];
}

/** Hands what the work queue holds to `worker` until it is empty. */
async function drain(worker: Worker): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    if (messages.length === 0) return;
    await worker(sqsEvent(messages), fakeContext());
  }
  throw new Error('queue not empty after 20 rounds');
}

/** The truth the ledger must show: every task counted once, succeeded, the run ended once. */
async function expectExact(jobId: string, submitted: number): Promise<void> {
  const record = await ledger.getRun(jobId, 'r1');
  expect(record).toMatchObject({
    status: 'succeeded',
    submitted,
    succeeded: submitted,
    deadLettered: 0,
    undeliverable: 0,
    invalid: 0,
    cancelled: 0,
    manifestDone: true,
  });
  const finished = events.eventBus.events.filter(
    (e) => e.source === 'bounded-fanout' && (e.detail as RunRecord).jobId === jobId,
  );
  expect(finished).toHaveLength(1);
  expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).toEqual([]);
}

describe('a message delivered twice with different outcomes, through the worker handler', () => {
  it('idempotency off: the first delivery retries a failed task, the second settles first with it succeeded: counted once', async () => {
    const message = await oneMessage('rd-race', 3);
    const [a, b] = [container(IdempotencyModes.OFF), container(IdempotencyModes.OFF)];
    // Delivery A reaches its settle with the flip task failed; it waits there until B has settled.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let atSettle = () => {};
    const reached = new Promise<void>((resolve) => {
      atSettle = resolve;
    });
    onCommand(a, 'dynamodb', /^TransactWrite/, () => {
      atSettle();
      return gate;
    });
    const first = workerOf(a)(sqsEvent([message]), fakeContext());
    await reached;
    flipFails = false;
    await workerOf(b)(sqsEvent([message]), fakeContext());
    release();
    await first;
    await drain(workerOf(b));
    await expectExact('rd-race', 4);
  });

  for (const mode of [IdempotencyModes.OFF, IdempotencyModes.MESSAGE]) {
    it(`idempotency ${mode}: a delivery whose settle fails after its task failed, then a redelivery where it succeeds: counted once`, async () => {
      const jobId = `rd-fail-${mode}`;
      const message = await oneMessage(jobId, 3);
      const [a, b] = [container(mode), container(mode)];
      onCommand(a, 'dynamodb', /^TransactWrite/, () => {
        throw new Error('injected: the settle is lost');
      });
      const failed = (await workerOf(a)(sqsEvent([message]), fakeContext())) as {
        batchItemFailures: unknown[];
      };
      expect(failed.batchItemFailures).toHaveLength(1);
      flipFails = false;
      await workerOf(b)(sqsEvent([message]), fakeContext());
      await drain(workerOf(b));
      await expectExact(jobId, 4);
    });

    it(`idempotency ${mode}: a delivery that settles with a retry and dies before sending it: the redelivery sends the recorded retry`, async () => {
      const jobId = `rd-lost-${mode}`;
      const message = await oneMessage(jobId, 3);
      const [a, b] = [container(mode), container(mode)];
      // A's first send after its settle fails (SQS throttled it for good, or the container died then).
      onCommand(
        a,
        'sqs',
        /^SendMessage/,
        () => {
          throw new Error('injected: the follow-up is lost');
        },
        Number.POSITIVE_INFINITY,
      );
      const failed = (await workerOf(a)(sqsEvent([message]), fakeContext())) as {
        batchItemFailures: unknown[];
      };
      expect(failed.batchItemFailures).toHaveLength(1);
      flipFails = false;
      await workerOf(b)(sqsEvent([message]), fakeContext());
      await drain(workerOf(b));
      await expectExact(jobId, 4);
    });
  }
});
