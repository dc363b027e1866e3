// functions/orchestrator-failure.ts through the real worker code, ledger and bucket: a report of a
// failed orchestrator event must not be lost to a passing fault. Lambda retries the destination's invocation
// only when it throws, and sends the report once.
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionLogger } from '../../functions/function-logger.js';
import { onOrchestratorFailure } from '../../functions/orchestrator-failure.js';
import { runLedgerOf } from '../../functions/run-ledger.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { emptyCounts } from '../../lib/fanout/summary.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { failureRecord } from '../../local/async-destinations.js';
import { localCredentials } from '../../local/resources.js';
import { type Harness, quietPowertools, startHarness } from './harness.js';

quietPowertools();

let h: Harness;
let runtime: FunctionRuntime;
let ledger: JobLedger;
const logger = functionLogger('review');

beforeAll(async () => {
  h = await startHarness({});
  const { createRuntime } = await import('../../functions/runtime.js');
  runtime = createRuntime(h.env);
  ledger = runtime.ledger!;
});
afterAll(async () => {
  await runtime?.destroy();
  h?.destroy();
});

const start = (jobId: string, runId: string) =>
  ledger.startRun({ jobId, runId, startedAt: Date.now(), toleratedFailurePercent: 100, overlap: 'allow' });

describe('a failure report', () => {
  it('of a first segment read from S3, met by an S3 fault, is retried (thrown), not dropped', async () => {
    const jobId = `s3-${randomBytes(3).toString('hex')}`;
    const key = `manifests/${jobId}.json`;
    const s3 = new S3Client({
      endpoint: process.env.AWS_ENDPOINT_URL_S3,
      region: process.env.AWS_REGION,
      credentials: localCredentials,
      forcePathStyle: true,
    });
    const body = JSON.stringify({
      jobId,
      tasks: [{ id: 't0', url: 'http://127.0.0.1:9/t0', mode: 'queue' }],
    });
    await s3.send(new PutObjectCommand({ Bucket: h.resources.bucket, Key: key, Body: body }));
    s3.destroy();
    const requestId = `req-${jobId}`;
    await start(jobId, requestId);
    const record = failureRecord({
      functionName: 'orchestrator',
      payload: { manifest: `s3://${h.resources.bucket}/${key}` },
      requestId,
      error: new Error('Runtime.ExitError'),
      attempts: 3,
    });
    // S3 unreachable for a moment (an outage, a throttle): here, an endpoint nothing listens on.
    const down = new S3Client({
      endpoint: 'http://127.0.0.1:9',
      region: process.env.AWS_REGION,
      credentials: localCredentials,
      forcePathStyle: true,
      maxAttempts: 1,
    });
    const rtDown = { ...runtime, aws: { ...runtime.aws, s3: down } } as FunctionRuntime;
    const answer = await onOrchestratorFailure(record, rtDown, runLedgerOf(rtDown, logger), logger).then(
      (a) => ({ resolved: a }),
      (e: unknown) => ({ threw: String(e) }),
    );
    down.destroy();
    // Resolving says "handled": Lambda never sends the report again, and the run stays running for good.
    expect(answer).toHaveProperty('threw');
    // Lambda's retry, S3 back: the run is broken.
    await expect(
      onOrchestratorFailure(record, runtime, runLedgerOf(runtime, logger), logger),
    ).resolves.toMatchObject({ broken: true, jobId, runId: requestId, status: 'failed' });
  });

  it('whose run ended at the break but whose finish failed is made good by the report’s retry', async () => {
    const jobId = `fin-${randomBytes(3).toString('hex')}`;
    const runId = 'r';
    await start(jobId, runId);
    await ledger.settle({ jobId, runId, key: 'segment:0', delta: { submitted: 2 } });
    await ledger.settle({ jobId, runId, key: 'm0', delta: { succeeded: 2 }, segment: 0 });
    // The job table refuses one write (a throttle past the SDK's retries, say): the break's finish.
    let refuse = true;
    const flaky = new Proxy(ledger, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        if (name === 'finish' && refuse) {
          return async () => {
            refuse = false;
            throw Object.assign(new Error('ProvisionedThroughputExceededException'), {
              name: 'ThrottlingException',
            });
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const rtFlaky = { ...runtime, ledger: flaky } as FunctionRuntime;
    const continuation = {
      continuation: {
        v: 1,
        jobId,
        runId,
        source: { kind: 'inline', job: { jobId, runId, tasks: [] } },
        cursor: 2,
        nextMessageSeq: 1,
        segment: 1,
        startedAt: 1,
        counts: { ...emptyCounts(), read: 2, enqueued: 2, messages: 1, batches: 1 },
        peaks: { inline: 0, enqueue: 1, invoke: 0 },
        budget: { finished: 0, failed: 0 },
      },
    };
    const record = failureRecord({
      functionName: 'orchestrator',
      payload: continuation,
      requestId: 'req-fin',
      error: new Error('Runtime.ExitError'),
      attempts: 3,
    });
    // The first delivery throws: Lambda retries the destination's invocation.
    await expect(
      onOrchestratorFailure(record, rtFlaky, runLedgerOf(rtFlaky, logger), logger),
    ).rejects.toThrow();
    expect(await ledger.getRun(jobId, runId)).toMatchObject({ brokenSegment: 1, status: 'failed' });
    await onOrchestratorFailure(record, rtFlaky, runLedgerOf(rtFlaky, logger), logger);
    // Every task ended and nothing more will settle: only the report's retry can end the run.
    const after = (await ledger.getRun(jobId, runId))!;
    expect(after.finishedAt).toBeDefined();
  });
});
