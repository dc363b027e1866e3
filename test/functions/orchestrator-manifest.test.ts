import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import type { Continuation } from '../../lib/fanout/continuation.js';
import type { TaskMessage } from '../../lib/fanout/messages.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { localCredentials } from '../../local/resources.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';

// The orchestrator and a manifest that goes wrong where the header check cannot see it: a fault after
// `tasks` (found once some tasks ran), and a manifest S3 will not hand over (403, as S3 answers for a
// missing key to a reader that may not list the bucket). Real queue, table and bucket of the backend, a
// real loopback target counting requests per task.

quietPowertools();

let h: Harness;
let server: CountingServer;
let invoke: InvokeServer;
let runtime: FunctionRuntime;
let s3: S3Client;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
const continuations: unknown[] = [];

beforeAll(async () => {
  server = await startCountingServer();
  invoke = new InvokeServer({
    functions: [
      new LocalFunction({
        name: 'm-orchestrator',
        handler: (e) => void continuations.push(e),
        timeoutMs: 60_000,
      }),
    ],
    asyncRetryAttempts: 0,
  });
  const endpoint = await invoke.listen();
  h = await startHarness(
    { inlineConcurrency: 4, deadlineMarginMs: 1000 },
    { AWS_ENDPOINT_URL_LAMBDA: endpoint },
  );
  const { createRuntime } = await import('../../functions/runtime.js');
  const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
  // No job table: this file checks the orchestrator's own counts and result object (written by the
  // orchestrator itself without a ledger); test/functions/ledger.test.ts covers a manifest fault with it.
  runtime = createRuntime({
    ...h.env,
    BOUNDED_FANOUT_JOB_TABLE: '',
    BOUNDED_FANOUT_ORCHESTRATOR_FUNCTION: 'm-orchestrator',
  });
  orchestrator = createOrchestratorHandler(() => runtime);
  s3 = new S3Client({ region: 'us-east-1', credentials: localCredentials, forcePathStyle: true });
});

afterAll(async () => {
  await invoke?.close();
  await runtime?.destroy();
  await server?.close();
  s3?.destroy();
  h?.destroy();
});

const hits = (id: string) => server.requests.filter((r) => r.path === `/${id}`).length;
const task = (id: string, mode: 'inline' | 'queue') =>
  JSON.stringify({ id, url: `${server.url}/${id}`, mode });

async function put(key: string, body: string): Promise<string> {
  await s3.send(new PutObjectCommand({ Bucket: h.resources.bucket, Key: key, Body: body }));
  return `s3://${h.resources.bucket}/${key}`;
}

async function queuedIds(): Promise<string[]> {
  const messages = await drainQueue(h.sqs, h.resources.queueUrl);
  return messages.flatMap((m) => (JSON.parse(m.Body!) as TaskMessage).tasks.map((t) => t.id));
}

async function resultSummary(key: string): Promise<Record<string, unknown>> {
  const object = await s3.send(new GetObjectCommand({ Bucket: h.resources.bucket, Key: key }));
  return JSON.parse((await object.Body!.transformToString()).split('\n')[0]);
}

describe('orchestrator: a JSON manifest that breaks after its tasks began', () => {
  const faults = [
    {
      name: 'truncated',
      tail: (p: string) => `,${task(`${p}lost`, 'inline').slice(0, 20)}`,
      error: 'manifest: is not valid JSON at the end: expected more input: the manifest ends early',
    },
    {
      name: 'second-tasks',
      tail: (p: string) => `],"tasks":[${task(`${p}lost`, 'inline')}]}`,
      error: 'tasks: appears twice',
    },
    { name: 'unknown-member', tail: () => '],"extra":1}', error: 'extra: is not a known field' },
  ];

  for (const fault of faults) {
    it(`${fault.name}: the tasks read run once, the job fails with the reason, a retry of the event runs nothing`, async () => {
      const p = `${fault.name}-`;
      const body = `{"jobId":"${p}job","tasks":[${task(`${p}a`, 'inline')},${task(`${p}b`, 'inline')},${task(`${p}c`, 'queue')}${fault.tail(p)}`;
      const uri = await put(`manifests/${fault.name}.json`, body);
      // Lambda's retries of an asynchronous event carry its request id: the same run, the same segment key.
      const context = fakeContext(() => 60_000, `req-${fault.name}`);
      const result = await orchestrator({ manifest: uri }, context);
      expect(result.status).toBe('failed');
      if (result.status !== 'failed') return;
      expect(result.summary).toMatchObject({
        status: 'failed',
        reason: 'manifest-error',
        error: fault.error,
      });
      expect(result.summary.counts).toMatchObject({
        read: 3,
        invalid: 0,
        inlineSucceeded: 2,
        inlineFailed: 0,
        enqueued: 1,
        deadLettered: 0,
        undeliverable: 0,
      });
      expect(await resultSummary(result.resultKey!)).toMatchObject({
        type: 'summary',
        status: 'failed',
        reason: 'manifest-error',
        error: fault.error,
      });

      const again = await orchestrator({ manifest: uri }, context);
      expect(again).toMatchObject({ status: 'duplicate', jobId: `${p}job` });
      expect([hits(`${p}a`), hits(`${p}b`), hits(`${p}lost`)]).toEqual([1, 1, 0]);
      expect(await queuedIds()).toEqual([`${p}c`]);
    });
  }

  it('a fault a later segment reaches fails the job there, counting every segment', async () => {
    const tasks = Array.from({ length: 6 }, (_, i) => task(`seg${i}`, 'queue'));
    const uri = await put(
      'manifests/segmented.json',
      `{"jobId":"segmented","tasks":[${tasks.join(',')}],"x":1}`,
    );
    // Time for a few tasks in the first invocation: it continues, and the second meets the fault.
    const deadlineAfter = (checks: number) => {
      let n = 0;
      return fakeContext(() => (++n <= checks ? 60_000 : 0));
    };
    continuations.length = 0;
    const first = await orchestrator({ manifest: uri }, deadlineAfter(3));
    expect(first.status).toBe('continued');
    if (first.status !== 'continued') return;
    // The tasks it read went into a part-filled message, handed back at the stop (lib/fanout/reread.ts).
    expect(first.cursor).toBe(0);
    await invoke.idle();
    const event = continuations.shift();
    const reread = (event as { continuation: Continuation }).continuation.reread;
    expect(reread?.queueFrom).toBe(0);
    expect(reread?.to).toBeGreaterThan(0);
    expect(reread?.to).toBeLessThan(6);
    const second = await orchestrator(event, deadlineAfter(100));
    expect(second.status).toBe('failed');
    if (second.status !== 'failed') return;
    expect(second.summary).toMatchObject({
      reason: 'manifest-error',
      error: 'x: is not a known field',
      segments: 2,
    });
    expect(second.summary.counts).toMatchObject({ read: 6, enqueued: 6 });
    expect(await orchestrator(event, deadlineAfter(100))).toMatchObject({ status: 'duplicate' });
    expect((await queuedIds()).sort()).toEqual(Array.from({ length: 6 }, (_, i) => `seg${i}`));
  });
});

describe('orchestrator: a manifest replaced while its job runs', () => {
  it('the next segment reads it with If-Match on the first ETag and fails the job, naming the object and the ETag', async () => {
    const key = 'manifests/replaced.json';
    const tasks = Array.from({ length: 6 }, (_, i) => task(`rep${i}`, 'queue'));
    const uri = await put(key, `{"jobId":"replaced","tasks":[${tasks.join(',')}]}`);
    const { ETag } = await s3.send(new HeadObjectCommand({ Bucket: h.resources.bucket, Key: key }));
    let n = 0;
    continuations.length = 0;
    const first = await orchestrator(
      { manifest: uri },
      fakeContext(() => (++n <= 3 ? 60_000 : 0)),
    );
    expect(first.status).toBe('continued');
    if (first.status !== 'continued') return;
    await invoke.idle();
    const event = continuations.shift();
    expect(event).toMatchObject({ continuation: { source: { kind: 's3', key, etag: ETag } } });
    // Another version under the same key: its tasks must not be mixed into the run.
    const other = Array.from({ length: 6 }, (_, i) => task(`new${i}`, 'inline'));
    await put(key, `{"jobId":"replaced","tasks":[${other.join(',')}]}`);

    const second = await orchestrator(event, fakeContext());
    expect(second.status).toBe('failed');
    if (second.status !== 'failed') return;
    expect(second.summary).toMatchObject({
      reason: 'manifest-error',
      error: `manifest: "${uri}" changed while the job ran (ETag ${ETag})`,
      segments: 2,
    });
    expect(second.summary.counts).toMatchObject({ read: first.cursor, enqueued: first.cursor });
    expect(Array.from({ length: 6 }, (_, i) => hits(`new${i}`))).toEqual([0, 0, 0, 0, 0, 0]);
    expect((await queuedIds()).sort()).toEqual(
      Array.from({ length: first.cursor }, (_, i) => `rep${i}`).sort(),
    );
  });
});

describe('orchestrator: the format of an S3 manifest', () => {
  it('reads JSON named .ndjson as JSON and NDJSON named .json as NDJSON (the bytes decide)', async () => {
    const tasks = ['fa', 'fb', 'fc'].map((id) => ({ id, url: `${server.url}/${id}`, mode: 'queue' }));
    const pretty = await put('manifests/pretty.ndjson', JSON.stringify({ jobId: 'pretty', tasks }, null, 2));
    const json = await orchestrator({ manifest: pretty }, fakeContext());
    expect(json).toMatchObject({
      status: 'succeeded',
      summary: { counts: { read: 3, invalid: 0, enqueued: 3 } },
    });
    const lines = [{ jobId: 'lines' }, ...tasks.map((t) => ({ ...t, id: `n${t.id}` }))].map((l) =>
      JSON.stringify(l),
    );
    const nd = await orchestrator(
      { manifest: await put('manifests/lines.json', lines.join('\n')) },
      fakeContext(),
    );
    expect(nd).toMatchObject({
      status: 'succeeded',
      summary: { counts: { read: 3, invalid: 0, enqueued: 3 } },
    });
    expect((await queuedIds()).sort()).toEqual(['fa', 'fb', 'fc', 'nfa', 'nfb', 'nfc']);
  });
});

/**
 * A stand-in for S3 (no emulator here has IAM): answers every request as S3 does a GetObject of a key the
 * caller may not list the bucket for, 403 AccessDenied with S3's XML error body.
 */
async function startAccessDeniedS3(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const s = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(403, {
      'content-type': 'application/xml',
      'x-amz-request-id': 'STANDIN0000000001',
      'x-amz-id-2': 'c3RhbmQtaW4=',
    });
    res.end(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>STANDIN0000000001</RequestId><HostId>c3RhbmQtaW4=</HostId></Error>',
    );
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => s.close(() => resolve())),
  };
}

describe('orchestrator: a manifest S3 answers 403 for', () => {
  it('is refused at once with one clear result, not thrown (a throw is retried, then dead-lettered)', async () => {
    const standIn = await startAccessDeniedS3();
    const deniedS3 = new S3Client({
      endpoint: standIn.url,
      region: 'us-east-1',
      credentials: localCredentials,
      forcePathStyle: true,
    });
    try {
      const denied = createOrchestratorOn({ ...runtime, aws: { ...runtime.aws, s3: deniedS3 } });
      const result = await denied({ manifest: 's3://fanout-bucket/manifests/nightly.ndjson' }, fakeContext());
      expect(result).toEqual({
        status: 'refused',
        error:
          'manifest: "s3://fanout-bucket/manifests/nightly.ndjson" is missing or may not be read (403 AccessDenied: S3 answers 403, not 404, for a missing key when the reader may not list the bucket)',
        field: 'manifest',
      });
      expect(standIn.requests).toEqual(['GET /fanout-bucket/manifests/nightly.ndjson?x-id=GetObject']);
    } finally {
      deniedS3.destroy();
      await standIn.close();
    }
  });
});

function createOrchestratorOn(rt: FunctionRuntime) {
  return async (event: unknown, context: ReturnType<typeof fakeContext>) => {
    const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
    return createOrchestratorHandler(() => rt)(event, context);
  };
}
