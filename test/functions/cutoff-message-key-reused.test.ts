import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { IdempotencyModes } from '../../lib/config.js';
import { parseTaskMessage } from '../../lib/fanout/messages.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { type Containers, startContainers, type Worker } from './containers.js';
import { drainQueue, fakeContext, quietPowertools, sqsEvent } from './harness.js';
import { startStallingServer } from './stalling-server.js';

// Regression test. DEFECT of 984c85c (fails there: q7..q11 never requested; ledger `running`, 14 of 18
// succeeded), fixed by 1941c71 (cut-off inline tasks are dead-lettered instead of sent to the work queue).
// With 984c85c, a cut-off inline task's message took the next number of the
// segment's message sequence, so its key `<jobId>:<runId>:<seq>` depends on where that copy of the segment
// happened to be when a host stalled. functions/orchestrator.ts and docs/ledger.md ("A segment run twice")
// rely on "every copy's message k holds the same tasks": the worker runs a key once and the ledger settles it
// once. Here a segment's first copy has a stalled inline task cut off and sent as message 1, then fails its
// ledger settle (a DynamoDB error: Lambda retries the invocation, Powertools having dropped its record); the
// retry's inline task answers, so its message 1 holds five queued tasks. The worker runs key 1 once: those
// five tasks never reach their host, and the run never ends: `running`, 14 of 18 succeeded (q7..q11 lost,
// i0 counted twice: by the retry's inline run and by the worker's run of the first copy's message).
// Through the real handlers, against the backend's queues and tables and a real HTTP target on 127.0.0.1.

quietPowertools();

let c: Containers;
let server: CountingServer;
let ledger: JobLedger;
let worker: Worker;
let failingRt: FunctionRuntime;
let failingOrchestrator: Containers['orchestrator'];

beforeAll(async () => {
  // `/stall/` paths: a task's first request never answers (within the test), later ones at once.
  server = await startStallingServer();
  c = await startContainers({ inlineConcurrency: 1, perInvocationConcurrency: 4, deadlineMarginMs: 1000 });
  ledger = c.ledger;
  worker = c.workerOf(c.container(IdempotencyModes.MESSAGE));
  // The first copy's container: its segment settle fails (as a DynamoDB outage or throttle would).
  failingRt = c.container(IdempotencyModes.MESSAGE);
  failingRt.aws.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const input = JSON.stringify(args.input);
      if (/TransactWrite/.test(context.commandName ?? '') && input.includes('segment:0')) {
        throw Object.assign(new Error('injected: the segment settle failed'), { name: 'ServiceUnavailable' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'failSegmentSettle' },
  );
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  failingOrchestrator = createOrchestratorHandler(() => failingRt) as Containers['orchestrator'];
});

afterAll(async () => {
  await c?.destroy();
  await server?.close();
});

const hits = (id: string) => server.requests.filter((r) => r.path.endsWith(`/${id}`)).length;

/** The work queue to `worker` one message at a time (in the order the queue gives them), until it is empty. */
async function drainOneByOne(keys: string[]) {
  for (let i = 0; i < 20; i++) {
    const messages = await drainQueue(c.h.sqs, c.h.resources.queueUrl);
    if (messages.length === 0) return;
    for (const m of messages) {
      const parsed = parseTaskMessage(m.Body ?? '');
      if (parsed.ok) keys.push(`${parsed.value.key}=${parsed.value.tasks.map((t) => t.id).join(',')}`);
      await worker(sqsEvent([m]), fakeContext());
    }
  }
}

describe('a segment retried after its inline cutoff', () => {
  it('its cut-off message never takes a key the retry uses for other tasks: every queued task runs, counts exact', async () => {
    const url = (id: string, kind = 'ok') => `${server.url}/${kind}/${id}`;
    // i0 stalls (its first request only); five queued tasks per message; inline tasks one at a time.
    const tasks = [
      { id: 'i0', url: url('i0', 'stall'), mode: 'inline' },
      ...[1, 2, 3, 4, 5].map((n) => ({ id: `q${n}`, url: url(`q${n}`) })),
      { id: 'i6', url: url('i6'), mode: 'inline' },
      ...[7, 8, 9, 10, 11].map((n) => ({ id: `q${n}`, url: url(`q${n}`) })),
      { id: 'i12', url: url('i12'), mode: 'inline' },
      ...[13, 14, 15, 16, 17].map((n) => ({ id: `q${n}`, url: url(`q${n}`) })),
    ];
    const event = { jobId: 'cut-key', runId: 'r1', limits: { tasksPerMessage: 5 }, tasks };
    const deadlineIn = (ms: number) => {
      const end = Date.now() + ms;
      return fakeContext(() => end - Date.now());
    };

    // First copy: reading stops at 2 s (i6 waits for i0's slot), the cutoff at 2.5 s hands i0 on as message
    // 1, and the settle fails: the invocation fails.
    await expect(failingOrchestrator(event, deadlineIn(3_000))).rejects.toThrow(/injected/);
    // Lambda's retry of the same event: i0 answers now, and the segment reads to the end.
    await c.orchestrator(event, deadlineIn(3_000));

    const keys: string[] = [];
    await drainOneByOne(keys);
    console.log('[cut-key] messages as delivered:', keys);
    const queued = tasks.filter((t) => t.id.startsWith('q')).map((t) => t.id);
    // Expected: each queued task reached its host once; the run ended with every task counted once.
    expect.soft(queued.filter((id) => hits(id) !== 1)).toEqual([]);
    const run = await ledger.getRun('cut-key', 'r1');
    expect({ status: run?.status, submitted: run?.submitted, succeeded: run?.succeeded }).toEqual({
      status: 'succeeded',
      submitted: 18,
      succeeded: 18,
    });
  });
});
