import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchResponse } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { readDeadLetterBody } from '../../lib/fanout/messages.js';
import { isWireSafe } from '../../lib/wire/wire-json.js';
import { localCredentials } from '../../local/resources.js';
import { poisonString } from '../helpers/poison.js';
import { RUNS } from '../helpers/runs.js';
import { type BodyTarget, startBodyTarget } from '../local/fixtures/body-target.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

// Issue 12, as a property: random manifests whose ids, header values and bodies hold any UTF-16 units
// (U+FFFE, U+FFFF, lone surrogates, astral characters, control characters, weighted so most runs have
// some) through the real orchestrator and worker handlers and the chosen backend's queues. No task is
// lost: each one is refused by the manifest, answered by the target once with its body's bytes intact, or
// found once in the dead-letter queue with its id and body intact (a header value undici will not send
// fails the task: it is dead-lettered, with maxReceiveCount 1 at once). The queues are empty at the end.

quietPowertools();

let h: Harness;
let target: BodyTarget;
let runtime: FunctionRuntime;
let s3: S3Client;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
let worker: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  target = await startBodyTarget((path) => (path.includes('/fail/') ? 404 : 200));
  h = await startHarness({ maxReceiveCount: 1, inlineConcurrency: 4, perInvocationConcurrency: 8 });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  // No job table: the property reads the orchestrator's own result object, written by it without a ledger.
  runtime = createRuntime({ ...h.env, BOUNDED_FANOUT_JOB_TABLE: '' });
  orchestrator = createOrchestratorHandler(() => runtime);
  worker = createWorkerHandler(() => runtime) as typeof worker;
  s3 = new S3Client({ region: 'us-east-1', credentials: localCredentials, forcePathStyle: true });
});

afterAll(async () => {
  await runtime?.destroy();
  await target?.close();
  s3?.destroy();
  h?.destroy();
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters the manifest refuses in ids
const noControls = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, '_');

const taskArb = fc.record({
  // Ids: any units (the manifest refuses control characters in ids), the same without controls, numbers.
  id: fc.oneof(poisonString(12, 1), poisonString(12, 1).map(noControls), fc.nat(1_000_000)),
  // Header values: any units (the manifest refuses what HTTP cannot send), or Latin-1 text (it travels).
  header: fc.option(
    fc.oneof(
      poisonString(12),
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0xff }).map((n) => String.fromCharCode(n)),
        maxLength: 12,
      }),
    ),
    { nil: undefined },
  ),
  body: fc.option(poisonString(40), { nil: undefined }),
  mode: fc.constantFrom('queue', 'queue', 'inline'),
  fails: fc.boolean(),
});

async function invalidIndexes(result: OrchestratorResult): Promise<number[]> {
  if (result.status !== 'succeeded' && result.status !== 'failed') throw new Error(result.status);
  const object = await s3.send(new GetObjectCommand({ Bucket: h.resources.bucket, Key: result.resultKey! }));
  return (await object.Body!.transformToString())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === 'invalid')
    .map((r) => r.index as number);
}

describe('property: a manifest with any characters in ids, headers and bodies', () => {
  it('loses no task: each is refused, run once with its body intact, or dead-lettered once intact', async () => {
    let run = 0;
    let traveled = 0;
    let deadTotal = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(taskArb, { minLength: 1, maxLength: 30 }), async (drawn) => {
        run++;
        // A task the target fails (404) is dead-lettered at once (maxReceiveCount 1).
        const path = (i: number) => `/r${run}/${drawn[i].fails ? 'fail/' : ''}t${i}`;
        const tasks = drawn.map((t, i) => ({
          id: t.id,
          url: `${target.url}${path(i)}`,
          mode: t.mode,
          ...(t.header === undefined ? {} : { headers: { 'x-p': t.header } }),
          ...(t.body === undefined ? {} : { method: 'POST', body: t.body }),
        }));
        const result = await orchestrator({ jobId: `wp${run}`, tasks }, fakeContext());
        if (result.status !== 'succeeded' && result.status !== 'failed') throw new Error(result.status);
        const { counts } = result.summary;
        expect(counts.undeliverable).toBe(0);
        expect(counts.read).toBe(tasks.length);
        expect(counts.invalid + counts.enqueued + counts.inlineSucceeded + counts.inlineFailed).toBe(
          counts.read,
        );

        const messages = await drainQueue(h.sqs, h.resources.queueUrl);
        expect(messages.reduce((n, m) => n + JSON.parse(m.Body!).tasks.length, 0)).toBe(counts.enqueued);
        for (let i = 0; i < messages.length; i += 10) {
          const response = (await worker(
            sqsEvent(messages.slice(i, i + 10)),
            fakeContext(),
          )) as SQSBatchResponse;
          expect(response.batchItemFailures).toEqual([]);
        }
        expect(await drainQueue(h.sqs, h.resources.queueUrl)).toEqual([]);

        const dead = (await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).flatMap((m) => {
          const body = readDeadLetterBody(m.Body!);
          if (body.kind !== 'dead-letter') throw new Error(`unexpected ${body.kind} in the DLQ`);
          return body.message.tasks;
        });
        const invalid = new Set(await invalidIndexes(result));
        expect(invalid.size).toBe(counts.invalid);
        const outcomes = tasks.map((t, i) => {
          const received = target.received.get(path(i)) ?? [];
          const deadHere = dead.filter((d) => d.task.url === t.url);
          return { i, received, dead: deadHere, invalid: invalid.has(i) };
        });
        for (const o of outcomes) {
          const task = tasks[o.i];
          const what = `task ${o.i} ${JSON.stringify(task.id)}`;
          // Refused by the manifest and nothing else, or run once and then either done or dead-lettered once.
          if (o.invalid) expect([o.received.length, o.dead.length], what).toEqual([0, 0]);
          else expect([o.received.length, o.dead.length], what).toEqual([1, drawn[o.i].fails ? 1 : 0]);
          if (o.received.length === 1 && !isWireSafe(JSON.stringify(task))) traveled++;
          deadTotal += o.dead.length;
          if (o.received.length === 1) {
            expect(o.received[0].body.equals(Buffer.from(task.body ?? ''))).toBe(true);
          }
          if (o.dead.length === 1) {
            expect(o.dead[0].task.id).toBe(String(task.id));
            expect(o.dead[0].task.body).toBe(task.body);
            expect(o.dead[0].task.headers).toEqual(task.headers);
          }
        }
      }),
      // Each run is a whole job through the emulators: a bounded count, no shrinking (FC_SEED replays one).
      {
        numRuns: Math.min(RUNS, 25),
        endOnFailure: true,
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
      },
    );
    // Not vacuous: tasks holding characters SQS refuses did run, and others were dead-lettered.
    console.log(
      `[wire property] ${run} jobs; tasks with characters SQS refuses that ran: ${traveled}; dead-lettered: ${deadTotal}`,
    );
    expect(traveled).toBeGreaterThan(0);
    expect(deadTotal).toBeGreaterThan(0);
  }, 120_000);
});
