import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { backendS3 } from '../local/fixtures/aws.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { counts } from './run-outcome.js';

// A manifest that breaks mid-read with an error as long as the manifest makes it (a member after `tasks` whose
// name is 300 KB: the error names it), through the real orchestrator with the job ledger on the backend and a
// real target counting requests per task. The error rides on the segment's settle (segmentFailure) and becomes
// the run's `detail`: kept whole it made the run record larger than DynamoDB's 400 KB item, so the settle
// failed, the invocation threw, and each retry ran the segment's tasks again. Kept short, the run ends failed
// (manifest-error) at once, every task once.

quietPowertools();

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let s3: S3Client;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;

beforeAll(async () => {
  server = await startCountingServer();
  h = await startHarness({ inlineConcurrency: 4, deadlineMarginMs: 1000 });
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  runtime = createRuntime(h.env);
  orchestrator = createOrchestratorHandler(() => runtime);
  s3 = backendS3();
});

afterAll(async () => {
  await runtime?.destroy();
  await server?.close();
  s3?.destroy();
  h?.destroy();
});

describe('a manifest error as long as the manifest makes it', () => {
  it('fails the run (manifest-error) with a bounded detail, every task read run once', async () => {
    const tasks = Array.from({ length: 5 }, (_, i) => ({
      id: `t${i}`,
      url: `${server.url}/t${i}`,
      mode: 'inline',
    }));
    const key = 'k'.repeat(300_000);
    const body = `{"jobId":"long-error","runId":"r1","tasks":${JSON.stringify(tasks)},"${key}":1}`;
    const Key = 'manifests/long-error.json';
    await s3.send(new PutObjectCommand({ Bucket: h.resources.bucket, Key, Body: body }));
    const result = await orchestrator({ manifest: `s3://${h.resources.bucket}/${Key}` }, fakeContext());
    expect(result).toMatchObject({ status: 'failed', summary: { reason: 'manifest-error' } });
    // The summary (logged, and the result object's first line) keeps the same bounded text.
    expect((result as { summary: { error?: string } }).summary.error).toMatch(
      /^k+…k+: is not a known field$/,
    );
    expect((result as { summary: { error?: string } }).summary.error?.length).toBeLessThanOrEqual(500);
    for (const t of tasks) expect(server.requests.filter((r) => r.path === `/${t.id}`)).toHaveLength(1);
    const run = await runtime.ledger!.getRun('long-error', 'r1');
    expect(run).toMatchObject({ status: 'failed', reason: 'manifest-error' });
    expect(run?.detail).toMatch(/^k+…k+: is not a known field$/);
    expect(run?.detail?.length).toBeLessThanOrEqual(500);
    expect(run?.segmentFailure?.detail).toBe(run?.detail);
    expect(counts(run)).toEqual({
      submitted: 5,
      succeeded: 5,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });
});
