import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CuttingProxy, HOLD, startCuttingProxy } from '../helpers/cutting-proxy.js';
import { backend, backendS3 } from '../local/fixtures/aws.js';
import { type ContinuingHandlers, startContinuingHandlers } from './continuing-handlers.js';
import { fakeContext, quietPowertools } from './harness.js';
import { counts } from './run-outcome.js';

// The orchestrator reading an S3 manifest whose connection is reset mid-body and whose every reopen then gets
// no answer (S3 gone silent), near its deadline: through the real handler with the job ledger, the backend's S3
// behind a real 127.0.0.1 proxy, a real target counting requests per task, and the continuation caught for the
// test to deliver. At its cutoff the segment lets the body go and stops where the read got to, as at a
// deadline: its continuation reads on, and the run succeeds with every task once. Before, the read waited on
// the silent reopens past the invocation's end (Lambda kills it there, nothing settled, and its retry runs the
// segment's tasks again).

quietPowertools();

const TASKS = 300;
let c: ContinuingHandlers;
let proxy: CuttingProxy;
let s3: S3Client;

beforeAll(async () => {
  proxy = await startCuttingProxy(backend().endpoints.s3);
  c = await startContinuingHandlers(
    'orch-stall',
    { inlineConcurrency: 8 },
    { AWS_ENDPOINT_URL_S3: proxy.url },
  );
  s3 = backendS3();
});

afterAll(async () => {
  await c?.destroy();
  await proxy?.stop();
  s3?.destroy();
});

/** A context whose invocation ends `ms` from now, on the real clock (the segment's cutoff is a real timer). */
function endingIn(ms: number) {
  const end = Date.now() + ms;
  return fakeContext(() => end - Date.now());
}

describe('orchestrator: an S3 manifest whose reopens get no answer near the deadline', () => {
  it('stops at its cutoff where the read got to; the continuation reads on: every task once', async () => {
    const lines = [JSON.stringify({ jobId: 'stall', runId: 'r1' })];
    for (let i = 0; i < TASKS; i++)
      lines.push(JSON.stringify({ id: `t${i}`, url: `${c.server.url}/t${i}`, mode: 'inline' }));
    const Body = `${lines.join('\n')}\n`;
    await s3.send(
      new PutObjectCommand({ Bucket: c.h.resources.bucket, Key: 'manifests/stall.ndjson', Body }),
    );
    proxy.cut('/manifests/stall.ndjson', 4_000, HOLD);
    const uri = `s3://${c.h.resources.bucket}/manifests/stall.ndjson`;
    const first = await c.orchestrator({ manifest: uri }, endingIn(4_000));
    expect(first).toMatchObject({ status: 'continued' });
    const held = proxy.requests.filter((r) => r.path.includes('stall.ndjson') && r.range !== undefined);
    expect(held).toHaveLength(1);
    await c.invoke.idle();
    expect(c.continuations).toHaveLength(1);
    const second = await c.orchestrator(c.continuations[0], fakeContext());
    expect(second).toMatchObject({ status: 'succeeded' });
    for (let i = 0; i < TASKS; i++)
      expect(c.server.requests.filter((r) => r.path === `/t${i}`)).toHaveLength(1);
    const run = await c.ledger.getRun('stall', 'r1');
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(counts(run)).toEqual({
      submitted: TASKS,
      succeeded: TASKS,
      deadLettered: 0,
      undeliverable: 0,
      invalid: 0,
      cancelled: 0,
    });
  });
});
