import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { type CuttingProxy, startCuttingProxy } from '../helpers/cutting-proxy.js';
import { backend, backendS3 } from '../local/fixtures/aws.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { counts } from './run-outcome.js';

// The orchestrator reading an S3 manifest whose connection is reset mid-body, twice: through the real handler
// with the job ledger, the backend's S3 behind a real 127.0.0.1 proxy that cuts the GetObject answers, and a
// real target counting requests per task. The rest is asked for (Range, If-Match) and read on: the run
// succeeds, every task run once. Before, the first reset ended the run `failed` (manifest-error) with the
// tasks after it never run.

quietPowertools();

let h: Harness;
let proxy: CuttingProxy;
let server: CountingServer;
let runtime: FunctionRuntime;
let s3: S3Client;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;

beforeAll(async () => {
  server = await startCountingServer();
  proxy = await startCuttingProxy(backend().endpoints.s3);
  h = await startHarness(
    { inlineConcurrency: 8, deadlineMarginMs: 1000 },
    { AWS_ENDPOINT_URL_S3: proxy.url },
  );
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  orchestrator = createOrchestratorHandler(() => runtime);
  s3 = backendS3();
});

afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  await proxy?.stop();
  s3?.destroy();
  h?.destroy();
});

describe('orchestrator: an S3 manifest whose connection is reset mid-read', () => {
  it('reads on from where it broke: the run succeeds, every task once', async () => {
    const ids = Array.from({ length: 400 }, (_, i) => `t${i}`);
    const lines = [JSON.stringify({ jobId: 'cut', runId: 'r1' })];
    for (const id of ids) lines.push(JSON.stringify({ id, url: `${server.url}/${id}`, mode: 'inline' }));
    const body = `${lines.join('\n')}\n`;
    await s3.send(
      new PutObjectCommand({ Bucket: h.resources.bucket, Key: 'manifests/cut.ndjson', Body: body }),
    );
    proxy.cut('/manifests/cut.ndjson', 4_000, 9_000);
    const result = await orchestrator(
      { manifest: `s3://${h.resources.bucket}/manifests/cut.ndjson` },
      fakeContext(() => 60_000, 'req-cut'),
    );
    expect(result).toMatchObject({ status: 'succeeded' });
    const ranges = proxy.requests.filter((r) => r.path.includes('cut.ndjson') && r.method === 'GET');
    expect(ranges.map((r) => r.range)).toEqual([undefined, 'bytes=4000-', 'bytes=13000-']);
    for (const id of ids) expect(server.requests.filter((r) => r.path === `/${id}`)).toHaveLength(1);
    const run = await runtime.ledger!.getRun('cut', 'r1');
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(counts(run)).toEqual({
      submitted: 400,
      succeeded: 400,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });
});
