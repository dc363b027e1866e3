// The worker sends a settled segment's next segment again when Lambda reports the segment failed for good
// (functions/orchestrator-failure.ts continueSettled). For a first segment read from S3 the worker reads the
// object again to name the run: the re-sent continuation must still read the version the run read, as the one
// the settled copy sent would have (its ETag), not a manifest put there since.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, IdempotencyModes } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import { RunReasons } from '../../lib/ledger/run-record.js';
import { failureRecord } from '../../local/async-destinations.js';
import { Edge } from '../../local/edge.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';

quietPowertools();

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let ledger: JobLedger;
let invoke: InvokeServer;
let events: Edge;
const continuations: unknown[] = [];
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
let worker: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  invoke = new InvokeServer({
    functions: [
      new LocalFunction({
        name: 'rs-orchestrator',
        handler: (e) => void continuations.push(e),
        timeoutMs: 60_000,
      }),
    ],
    asyncRetryAttempts: 0,
  });
  const lambda = await invoke.listen();
  h = await startHarness(
    { perInvocationConcurrency: 4, idempotency: IdempotencyModes.MESSAGE, deadlineMarginMs: 1000 },
    { AWS_ENDPOINT_URL_LAMBDA: lambda },
  );
  h.env[EnvVars.ORCHESTRATOR_FUNCTION] = 'rs-orchestrator';
  events = await Edge.start({ upstreams: {}, listen: { host: '127.0.0.1', port: 0 } });
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = events.url;
  h.env.AWS_ENDPOINT_URL_EVENTBRIDGE = events.url;
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createWorkerHandler } = await import('../../functions/worker.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  worker = createWorkerHandler(() => runtime) as typeof worker;
  orchestrator = createOrchestratorHandler(() => runtime);
  ledger = runtime.ledger!;
});

afterAll(async () => {
  await invoke?.close();
  await events?.close();
  await runtime?.destroy();
  await server?.close();
  h?.destroy();
});

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
