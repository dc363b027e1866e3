import { type Message, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import { type IdempotencyMode, IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { type Containers, startContainers, type Worker } from './containers.js';
import { drainQueue, fakeContext, type Harness, quietPowertools } from './harness.js';

// Copies of one dead letter, redriven. A dead letter's send is at least once (a delivery that dies between
// its send and its answer sends it again when redelivered) and a redrive may be run twice, so the DLQ can
// hold a dead letter twice, and each copy comes back as a message of its own key. The run counted its tasks
// dead-lettered once: whichever copy ends a task first moves it out of `deadLettered`, the others move
// nothing (functions/worker-hand-on.ts movedSettles). Through the real worker handler in each idempotency
// mode, against the backend's real queues and tables and a real HTTP target on 127.0.0.1 counting requests
// per task.

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let ledger: JobLedger;
let orchestrator: Containers['orchestrator'];
/** `/gone/` paths answer 404 (for good) while this is true, then 200. */
let broken = true;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => (broken && req.path.includes('/gone/') ? { status: 404 } : undefined));
  c = await startContainers({ perInvocationConcurrency: 4, maxReceiveCount: 3, deadlineMarginMs: 1000 });
  ({ h, ledger, orchestrator } = c);
});

afterAll(async () => {
  await c?.destroy();
  await server?.close();
});

const workerOf = (idempotency: IdempotencyMode) => c.workerOf(c.container(idempotency));
const drain = (worker: Worker) => c.drain(worker);

const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;

/** Puts each of `bodies` on the work queue `copies` times, as a redrive of a DLQ holding that many copies does. */
async function redrive(bodies: readonly string[], copies: number): Promise<void> {
  const all = bodies.flatMap((body) => Array<string>(copies).fill(body));
  for (let i = 0; i < all.length; i += 10) {
    const Entries = all.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody }));
    const sent = await h.sqs.send(new SendMessageBatchCommand({ QueueUrl: h.resources.queueUrl, Entries }));
    expect(sent.Failed ?? []).toEqual([]);
  }
}

/** A run of `n` tasks that fail for good, ended `partial` with all of them dead-lettered; the DLQ's bodies. */
async function deadRun(
  jobId: string,
  n: number,
  worker: Worker,
  idOf = (i: number) => `${jobId}-${i}`,
): Promise<string[]> {
  broken = true;
  await drainQueue(h.sqs, h.resources.deadLetterQueueUrl); // other tests' dead letters
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: idOf(i),
    url: `${server.url}/gone/${jobId}-${i}`,
    mode: 'queue',
  }));
  await orchestrator({ jobId, runId: 'r1', tasks, limits: { tasksPerMessage: 2 } }, fakeContext());
  await drain(worker);
  expect(counts(await ledger.getRun(jobId, 'r1'))).toEqual({
    succeeded: 0,
    deadLettered: n,
    undeliverable: 0,
  });
  return bodies(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl));
}

const bodies = (messages: readonly Message[]) => messages.map((m) => m.Body as string);

async function runOf(jobId: string) {
  return ledger.getRun(jobId, 'r1');
}

const counts = (r: Awaited<ReturnType<JobLedger['getRun']>>) =>
  r && { succeeded: r.succeeded, deadLettered: r.deadLettered, undeliverable: r.undeliverable };

describe('copies of one dead letter, redriven', () => {
  for (const mode of [IdempotencyModes.OFF, IdempotencyModes.MESSAGE, IdempotencyModes.TASK]) {
    it(`idempotency ${mode}: two copies of every dead letter move each task out of deadLettered once`, async () => {
      const jobId = `rc-${mode}`;
      const worker = workerOf(mode);
      const dead = await deadRun(jobId, 6, worker);
      expect(dead.length).toBeGreaterThan(0);
      broken = false;
      await redrive(dead, 2);
      await drain(worker);
      expect(counts(await runOf(jobId))).toEqual({ succeeded: 6, deadLettered: 0, undeliverable: 0 });
      for (let i = 0; i < 6; i++) {
        // Once refused; then once more, or (both copies running) twice; in task mode the claims allow one.
        expect(hits(`${jobId}-${i}`)).toBeGreaterThanOrEqual(2);
        expect(hits(`${jobId}-${i}`)).toBeLessThanOrEqual(mode === IdempotencyModes.TASK ? 2 : 3);
      }
      // A third copy, long after: it runs (in off and message modes) but moves nothing.
      await redrive(dead.slice(0, 1), 1);
      await drain(worker);
      expect(counts(await runOf(jobId))).toEqual({ succeeded: 6, deadLettered: 0, undeliverable: 0 });
      expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).toEqual([]);
      // The run keeps the status it ended with.
      expect((await runOf(jobId))?.status).toBe('partial');
    });
  }

  it('a copy that fails again keeps its tasks dead-lettered; the other copy then moves them; the new dead letter moves nothing', async () => {
    const jobId = 'rc-gen';
    const worker = workerOf(IdempotencyModes.OFF);
    const dead = await deadRun(jobId, 4, worker);
    await redrive(dead, 1); // copy A, while the partner is still broken
    await drain(worker);
    expect(counts(await runOf(jobId))).toEqual({ succeeded: 0, deadLettered: 4, undeliverable: 0 });
    const again = bodies(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl));
    expect(again.length).toBe(dead.length);
    broken = false;
    await redrive(dead, 1); // copy B, the partner fixed
    await drain(worker);
    expect(counts(await runOf(jobId))).toEqual({ succeeded: 4, deadLettered: 0, undeliverable: 0 });
    await redrive(again, 1); // A's dead letters, redriven in turn
    await drain(worker);
    expect(counts(await runOf(jobId))).toEqual({ succeeded: 4, deadLettered: 0, undeliverable: 0 });
    for (let i = 0; i < 4; i++) expect(hits(`${jobId}-${i}`)).toBe(4);
  });

  it('a task id that spells a message key of its run (job `moved`, task `r1:0`) still moves, and once', async () => {
    const worker = workerOf(IdempotencyModes.OFF);
    const dead = await deadRun('moved', 4, worker, (i) => `r1:${i}`);
    broken = false;
    await redrive(dead, 2);
    await drain(worker);
    expect(counts(await runOf('moved'))).toEqual({ succeeded: 4, deadLettered: 0, undeliverable: 0 });
    expect(await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).toEqual([]);
  });
});
