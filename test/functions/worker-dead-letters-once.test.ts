import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { type IdempotencyMode, IdempotencyModes } from '../../lib/config.js';
import { readDeadLetterBody } from '../../lib/fanout/messages.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { type Containers, startContainers } from './containers.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent } from './harness.js';

// A message's dead letters reach the DLQ once, however many deliveries it gets. A delivery that settled the
// message, sent its dead letters and counted them (`<key>!handed`) can still fail the record after that: its
// idempotency record's success write fails (a DynamoDB call timing out on a loaded machine, a sandbox killed at
// its timeout), or, in 'off' mode, its delete is lost. The message's next receive finds it settled and sends
// what its first settle kept: it sent the dead letters a second time, so the DLQ held two of each (a redrive
// would then run each task twice), while the ledger counted them once. Seen as 21 to 33 dead letters for 20
// tasks in test/local/faults.test.ts's host that never answers, on a loaded 2-core machine. Through the real
// worker handler, each delivery in a container of its own, against the backend's real queues and tables and a
// real HTTP target on 127.0.0.1 that answers 404 (failed for good, dead-lettered on the first delivery).

quietPowertools();

let c: Containers;
let h: Harness;
let server: CountingServer;
let ledger: JobLedger;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script((req) => (req.path.includes('/gone/') ? { status: 404 } : undefined));
  c = await startContainers({ perInvocationConcurrency: 4, maxReceiveCount: 2, deadlineMarginMs: 1000 });
  ({ h, ledger } = c);
});

afterAll(async () => {
  await c?.destroy();
  await server?.close();
});

/** A run of `gone` tasks that fail for good in one message and, when `live`, a succeeding one in another. */
async function messages(jobId: string, gone: number, live: boolean) {
  const tasks = Array.from({ length: gone }, (_, i) => ({
    id: `${jobId}-gone${i}`,
    url: `${server.url}/gone/${jobId}-gone${i}`,
    mode: 'queue',
  }));
  if (live) tasks.push({ id: `${jobId}-ok`, url: `${server.url}/${jobId}-ok`, mode: 'queue' });
  const limits = { tasksPerMessage: gone };
  await c.orchestrator({ jobId, runId: 'r1', limits, tasks }, fakeContext());
  const all = await drainQueue(h.sqs, h.resources.queueUrl);
  expect(all).toHaveLength(live ? 2 : 1);
  const failing = all.find((m) => m.Body!.includes('/gone/'))!;
  return { failing, other: all.find((m) => m !== failing) };
}

/** `rt`'s writes of a success to the idempotency table fail: the record fails after all its work. */
function successWriteFails(rt: FunctionRuntime): void {
  (rt.aws.dynamodb.middlewareStack as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input?: { TableName?: string } }) => {
        const idempotency = args.input?.TableName === h.resources.idempotencyTable;
        if (idempotency && context.commandName === 'UpdateItemCommand')
          throw new Error('injected: the idempotency store timed out');
        return next(args);
      },
    { step: 'initialize', name: 'successWriteFails' },
  );
}

/** The task ids of the dead letters in the DLQ, one entry per dead letter (a duplicate shows twice). */
async function deadLetterIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const m of await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)) {
    const read = readDeadLetterBody(m.Body!);
    if (read.kind === 'dead-letter') ids.push(...read.message.tasks.map((t) => t.task.id));
  }
  return ids.sort();
}

const received = (m: Message, count: number): Message => ({
  ...m,
  Attributes: { ...m.Attributes, ApproximateReceiveCount: String(count) },
});

describe('a message whose dead letters were sent and counted, received again', () => {
  const cases: [IdempotencyMode, boolean][] = [
    IdempotencyModes.OFF,
    IdempotencyModes.MESSAGE,
    IdempotencyModes.TASK,
  ].flatMap(
    (mode) =>
      [
        [mode, true],
        [mode, false],
      ] as [IdempotencyMode, boolean][],
  );
  for (const [mode, live] of cases) {
    const how = mode === IdempotencyModes.OFF ? 'its delete lost' : 'its idempotency success write failed';
    it(`idempotency ${mode}, ${how}, the run ${live ? 'live' : 'ended'}: each dead letter in the DLQ once`, async () => {
      const jobId = `dl-once-${mode}-${live ? 'live' : 'ended'}`;
      const { failing, other } = await messages(jobId, 3, live);
      const a = c.container(mode);
      if (mode !== IdempotencyModes.OFF) successWriteFails(a);
      const first = (await c.workerOf(a)(sqsEvent([failing]), fakeContext())) as {
        batchItemFailures: unknown[];
      };
      expect(first.batchItemFailures).toHaveLength(mode === IdempotencyModes.OFF ? 0 : 1);
      // Its dead letters were sent and counted before the record failed (or its delete was lost).
      expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ deadLettered: 3 });
      const requests = server.requests.length;
      // The next receive, the last one (maxReceiveCount 2): it runs beside the record left in progress.
      const again = await c.workerOf(c.container(mode))(sqsEvent([received(failing, 2)]), fakeContext());
      expect(again).toEqual({ batchItemFailures: [] });
      expect(server.requests.length).toBe(requests);
      if (other) await c.workerOf(c.container(mode))(sqsEvent([other]), fakeContext());
      const gone = [0, 1, 2].map((i) => `${jobId}-gone${i}`);
      expect(await deadLetterIds()).toEqual(gone);
      expect(await ledger.getRun(jobId, 'r1')).toMatchObject({
        status: 'partial',
        succeeded: live ? 1 : 0,
        deadLettered: 3,
      });
    });
  }
});
