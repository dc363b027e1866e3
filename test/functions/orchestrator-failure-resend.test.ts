// The worker sends a settled segment's next segment again when Lambda reports the segment failed for good
// (functions/orchestrator-failure.ts continueSettled). For a first segment read from S3 the worker reads the
// object again to name the run: the re-sent continuation must still read the version the run read, as the one
// the settled copy sent would have (its ETag), not a manifest put there since. An inline job too large for the
// next segment's event is kept in the bucket first, by the worker as by the orchestrator.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { CONTINUATIONS_PREFIX } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { RunReasons } from '../../lib/ledger/run-record.js';
import { LAMBDA_MAX_EVENT_PAYLOAD_BYTES } from '../../lib/wire/sqs-limits.js';
import { failureRecord } from '../../local/async-destinations.js';
import type { InvokeServer } from '../../local/invoke-server.js';
import { type ContinuingHandlers, startContinuingHandlers } from './continuing-handlers.js';
import { fakeContext, type Harness, quietPowertools } from './harness.js';

quietPowertools();

let c: ContinuingHandlers;
let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let ledger: JobLedger;
let invoke: InvokeServer;
let continuations: unknown[];
let orchestrator: ContinuingHandlers['orchestrator'];
let worker: ContinuingHandlers['worker'];

beforeAll(async () => {
  c = await startContinuingHandlers('rs-orchestrator');
  ({ h, server, runtime, ledger, invoke, continuations, orchestrator, worker } = c);
});

afterAll(() => c?.destroy());

const hitsOf = (prefix: string) => server.requests.filter((r) => r.path.startsWith(`/${prefix}`)).length;
const inline = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: `${server.url}/${prefix}${i}`,
    mode: 'inline',
  }));

describe('a settled first segment read from S3, reported failed for good', () => {
  it('is continued from the version the run read, not from a manifest put there since', async () => {
    const key = 'manifests/rs-replaced.json';
    const put = (body: unknown) =>
      runtime.aws.s3.send(
        new PutObjectCommand({ Bucket: h.resources.bucket, Key: key, Body: JSON.stringify(body) }),
      );
    await put({ jobId: 'rs-a', runId: 'r1', tasks: inline('old', 30) });
    const event = { manifest: `s3://${h.resources.bucket}/${key}` };
    let n = 0;
    const first = await orchestrator(
      event,
      fakeContext(() => (++n <= 10 ? 60_000 : 500)),
    );
    expect(first.status).toBe('continued');
    await invoke.idle();
    const sent = continuations.splice(0);
    expect(sent).toHaveLength(1);
    // The operator puts the next run's manifest (same job) before Lambda's report of segment 0 arrives.
    await put({ jobId: 'rs-a', runId: 'r1', tasks: inline('new', 30) });
    const record = failureRecord({
      functionName: 'rs-orchestrator',
      payload: event,
      requestId: 'req-rs-a',
      error: new Error('TooManyRequestsException: Rate Exceeded'),
      attempts: 3,
    });
    expect(await worker(record, fakeContext())).toMatchObject({ broken: false, continued: 1 });
    await invoke.idle();
    const resent = continuations.splice(0);
    // Run, it ends the run as the settled copy's would have: the manifest changed, no task of the new one run.
    await orchestrator(resent[0], fakeContext());
    expect(hitsOf('new')).toBe(0);
    expect(await ledger.getRun('rs-a', 'r1')).toMatchObject({
      status: 'failed',
      reason: RunReasons.MANIFEST_ERROR,
    });
    // The continuation the settled copy sent, and no other.
    expect(resent).toEqual(sent);
  });
});

describe('a settled first segment of an inline job too large for the next segment’s event, reported failed for good', () => {
  it('is continued from the job kept in the bucket, and the run ends with every task run once', async () => {
    const event = {
      jobId: 'rs-big',
      tasks: inline('big', 40).map((t) => ({ ...t, method: 'POST', body: '' })),
    };
    // The event fits Lambda's payload by a few bytes; the continuation (the job and where it stopped) does not.
    const room = LAMBDA_MAX_EVENT_PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify(event)) - 8;
    for (const [i, task] of event.tasks.entries()) {
      task.body = 'x'.repeat(Math.floor(room / 40) + (i < room % 40 ? 1 : 0));
    }
    expect(LAMBDA_MAX_EVENT_PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify(event))).toBe(8);
    let n = 0;
    const requestId = 'req-rs-big';
    const first = await orchestrator(
      event,
      fakeContext(() => (++n <= 10 ? 60_000 : 500), requestId),
    );
    expect(first.status).toBe('continued');
    await invoke.idle();
    const sent = continuations.splice(0) as { continuation: { source: { kind: string; key?: string } } }[];
    expect(sent).toHaveLength(1);
    const record = failureRecord({
      functionName: 'rs-orchestrator',
      payload: event,
      requestId,
      error: new Error('TooManyRequestsException: Rate Exceeded'),
      attempts: 3,
    });
    expect(await worker(record, fakeContext())).toMatchObject({ broken: false, continued: 1 });
    await invoke.idle();
    const resent = continuations.splice(0) as typeof sent;
    expect(resent).toHaveLength(1);
    expect(resent[0].continuation.source).toMatchObject({
      kind: 's3',
      key: `${CONTINUATIONS_PREFIX}rs-big/${requestId}/manifest.json`,
    });
    // The continuation the settled copy sent, and no other: the same kept job, the same version of it.
    expect(resent).toEqual(sent);
    let last = await orchestrator(resent[0], fakeContext());
    while (last.status === 'continued') {
      await invoke.idle();
      last = await orchestrator(continuations.splice(0)[0], fakeContext());
    }
    for (const { id } of event.tasks)
      expect(
        server.requests.filter((r) => r.path === `/${id}`),
        id,
      ).toHaveLength(1);
    expect(await ledger.getRun('rs-big', requestId)).toMatchObject({
      status: 'succeeded',
      submitted: 40,
      succeeded: 40,
    });
  });
});
