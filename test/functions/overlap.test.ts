// schedule.overlap `replace` and `allow` through the real orchestrator and worker handlers (`forbid`, the
// default, is in ledger.test.ts): a second run of a job starts while the first still has queued tasks, and a
// loopback target counts every request by task id, so what ran, and how often, is known exactly. And, under
// every policy, a job whose last run's record has expired starts again.
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, IdempotencyModes, type OverlapPolicy } from '../../lib/config.js';
import { runKey } from '../../lib/ledger/ledger-keys.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

quietPowertools();

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

let h: Harness;
let server: CountingServer;
const runtimes: FunctionRuntime[] = [];
let worker: Handler;
const orchestrators = {} as Record<OverlapPolicy, Handler>;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  h = await startHarness({ perInvocationConcurrency: 4, idempotency: IdempotencyModes.OFF });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  const runtimeWith = (overlap: OverlapPolicy) => {
    const config = { ...h.config, schedule: { ...h.config.schedule, overlap } };
    const rt = createRuntime({ ...h.env, [EnvVars.CONFIG]: JSON.stringify(config) });
    runtimes.push(rt);
    return rt;
  };
  const replace = runtimeWith('replace');
  const allow = runtimeWith('allow');
  orchestrators.replace = createOrchestratorHandler(() => replace) as Handler;
  orchestrators.allow = createOrchestratorHandler(() => allow) as Handler;
  const forbid = runtimeWith('forbid');
  orchestrators.forbid = createOrchestratorHandler(() => forbid) as Handler;
  worker = createWorkerHandler(() => replace) as Handler;
});

afterAll(async () => {
  for (const rt of runtimes) await rt.destroy();
  await server?.close();
  h?.destroy();
});

const hits = (id: string) => server.requests.filter((r) => r.path === `/${id}`).length;
const queued = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: `${server.url}/${prefix}${i}`,
    mode: 'queue',
  }));
const ledger = () => runtimes[0].ledger!;

async function drain(): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const messages = await drainQueue(h.sqs, h.resources.queueUrl);
    if (messages.length === 0) return;
    for (let j = 0; j < messages.length; j += 10)
      await worker(sqsEvent(messages.slice(j, j + 10)), fakeContext());
  }
  throw new Error('queue not empty after 20 rounds');
}

async function start(policy: OverlapPolicy, jobId: string, runId: string, prefix: string) {
  const event = { jobId, runId, tasks: queued(prefix, 4) };
  return (await orchestrators[policy](event, fakeContext())) as OrchestratorResult;
}

describe('schedule.overlap through the handlers', () => {
  it('replace: the new run starts, the old one ends cancelled (replaced) and none of its queued tasks runs', async () => {
    await start('replace', 'ov-replace', 'r1', 'ra');
    const second = await start('replace', 'ov-replace', 'r2', 'rb');
    expect(second).not.toMatchObject({ status: 'skipped' });
    expect((await ledger().getRun('ov-replace'))?.runId).toBe('r2');
    await drain();
    for (let i = 0; i < 4; i++) expect([hits(`ra${i}`), hits(`rb${i}`)]).toEqual([0, 1]);
    expect(await ledger().getRun('ov-replace', 'r1')).toMatchObject({
      status: 'cancelled',
      reason: 'replaced',
      submitted: 4,
      succeeded: 0,
      cancelled: 4,
    });
    expect(await ledger().getRun('ov-replace', 'r2')).toMatchObject({
      status: 'succeeded',
      submitted: 4,
      succeeded: 4,
    });
  });

  it('allow: both runs run to the end, each task once, each run counted apart', async () => {
    await start('allow', 'ov-allow', 'r1', 'aa');
    const second = await start('allow', 'ov-allow', 'r2', 'ab');
    expect(second).not.toMatchObject({ status: 'skipped' });
    await drain();
    for (let i = 0; i < 4; i++) expect([hits(`aa${i}`), hits(`ab${i}`)]).toEqual([1, 1]);
    for (const runId of ['r1', 'r2']) {
      expect(await ledger().getRun('ov-allow', runId)).toMatchObject({
        status: 'succeeded',
        submitted: 4,
        succeeded: 4,
        cancelled: 0,
      });
    }
  });

  for (const policy of ['forbid', 'replace', 'allow'] as const) {
    it(`${policy}: a job whose last run's record expired (the ledger's retention) starts again`, async () => {
      // The latest pointer has no TTL; the finished run's record has one (resultsRetentionDays). A job run less
      // often than that, or one left unscheduled for as long, found its pointer naming a run with no record.
      const jobId = `ov-expired-${policy}`;
      await start(policy, jobId, 'r1', `x${policy[0]}a`);
      await drain();
      expect(await ledger().getRun(jobId, 'r1')).toMatchObject({ status: 'succeeded', succeeded: 4 });
      // As DynamoDB's TTL deletes it.
      const { pk, sk } = runKey(jobId, 'r1');
      await runtimes[0].aws.dynamodb.send(
        new DeleteItemCommand({ TableName: h.resources.jobTable, Key: { pk: { S: pk }, sk: { S: sk } } }),
      );
      // Before: every start failed ("the latest pointer kept moving"), and so every later run of the job.
      const second = await start(policy, jobId, 'r2', `x${policy[0]}b`);
      expect(second).toMatchObject({ status: 'succeeded', run: { jobId, runId: 'r2', status: 'running' } });
      await drain();
      for (let i = 0; i < 4; i++) expect(hits(`x${policy[0]}b${i}`)).toBe(1);
      expect((await ledger().getRun(jobId))?.runId).toBe('r2');
      expect(await ledger().getRun(jobId, 'r2')).toMatchObject({
        status: 'succeeded',
        submitted: 4,
        succeeded: 4,
      });
    });
  }

  for (const policy of ['replace', 'allow'] as const) {
    it(`${policy}: a previous run complete but never ended (its last settler died) is ended by the next run, as it stands`, async () => {
      // r1's every task settled, but whoever settled last died before ending it. Under forbid the run it makes skip
      // ends it (ledger.test.ts). Before, under replace it was cancelled ('replaced', though nothing was left to
      // replace) and under allow left running: ended by no one, its result object and event never written.
      const jobId = `ov-complete-${policy}`;
      const started = { jobId, runId: 'r1', startedAt: Date.now(), toleratedFailurePercent: 0 };
      await ledger().startRun({ ...started, overlap: policy });
      const settle = { jobId, runId: 'r1' };
      await ledger().settle({ ...settle, key: 'segment:0', delta: { submitted: 2 }, manifestDone: true });
      await ledger().settle({ ...settle, key: 'm0', delta: { succeeded: 2 } });
      const second = await start(policy, jobId, 'r2', `c${policy[0]}`);
      expect(second).toMatchObject({ status: 'succeeded', run: { runId: 'r2' } });
      const first = await ledger().getRun(jobId, 'r1');
      expect(first).toMatchObject({ status: 'succeeded', submitted: 2, succeeded: 2, cancelled: 0 });
      expect(first?.finishedAt).toBeGreaterThan(0);
      await drain();
      expect(await ledger().getRun(jobId, 'r2')).toMatchObject({ status: 'succeeded', succeeded: 4 });
    });
  }
});
