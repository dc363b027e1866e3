// A manifest's S3 body read on past connections cut mid-body: the real SDK against the backend's S3 through a
// real 127.0.0.1 proxy that resets the connection after a chosen number of body bytes. The reader gets the
// object's bytes exactly, each reopen asking for the rest of the same version (Range and If-Match); a body
// cut again and again before any byte ends with the transport's error, as before; a version replaced
// meanwhile is a ManifestError naming the object; a body let go is never reopened.
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { letGo, openS3Manifest } from '../../../lib/aws/s3-manifest.js';
import { ManifestError } from '../../../lib/manifest/errors.js';
import { localCredentials } from '../../../local/resources.js';
import { type CuttingProxy, startCuttingProxy } from '../../helpers/cutting-proxy.js';
import { RUNS } from '../../helpers/runs.js';
import { backend, uniquePrefix } from '../../local/fixtures/aws.js';

let proxy: CuttingProxy;
let direct: S3Client;
let s3: S3Client;
const bucket = uniquePrefix('resume');

const client = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: backend().region,
    credentials: localCredentials,
    forcePathStyle: true,
    // One try per call: a cut body is this module's to resume, not the SDK's retries'.
    maxAttempts: 1,
  });

beforeAll(async () => {
  proxy = await startCuttingProxy(backend().endpoints.s3);
  direct = client(backend().endpoints.s3);
  s3 = client(proxy.url);
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  direct?.destroy();
  s3?.destroy();
  await proxy?.stop();
});

async function put(key: string, body: Buffer): Promise<void> {
  await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

const gets = (key: string) => proxy.requests.filter((r) => r.method === 'GET' && r.path.includes(key));

describe('an S3 manifest body cut mid-read', () => {
  it('is read on from where it broke, the same version: every byte once, in order', async () => {
    const bytes = randomBytes(300_000);
    await put('once.ndjson', bytes);
    proxy.cut('/once.ndjson', 70_000);
    const object = await openS3Manifest(s3, { bucket, key: 'once.ndjson' });
    expect((await readAll(object.chunks)).equals(bytes)).toBe(true);
    const [first, rest, ...more] = gets('once.ndjson');
    expect(first.range).toBeUndefined();
    expect(rest).toMatchObject({ range: 'bytes=70000-', ifMatch: object.etag });
    expect(more).toEqual([]);
  });

  // Fewer runs than the other properties: each cut waits the reopen's delay (100 ms and more).
  it('whatever the cut points, the reader gets the object exactly', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40_000 }),
        fc.array(fc.integer({ min: 1, max: 15_000 }), { maxLength: 4 }),
        async (size, cuts) => {
          const key = `p${n++}.json`;
          const bytes = randomBytes(size);
          await put(key, bytes);
          proxy.cut(`/${key}`, ...cuts);
          const object = await openS3Manifest(s3, { bucket, key });
          expect((await readAll(object.chunks)).equals(bytes)).toBe(true);
          const asked = gets(key).slice(1);
          // Each reopen asks for the rest from where the bytes stopped, pinned to the version read first.
          for (const r of asked)
            expect(r).toMatchObject({ range: expect.stringMatching(/^bytes=\d+-$/), ifMatch: object.etag });
          expect(asked.length).toBeLessThanOrEqual(cuts.length);
        },
      ),
      { numRuns: Math.min(RUNS, 60) },
    );
  }, 300_000);

  it('cut before any byte on every reopen: the read ends with the transport’s error after three tries', async () => {
    const bytes = randomBytes(50_000);
    await put('dead.ndjson', bytes);
    proxy.cut('/dead.ndjson', 10_000, 0, 0, 0, 0);
    const object = await openS3Manifest(s3, { bucket, key: 'dead.ndjson' });
    const error = await readAll(object.chunks).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(ManifestError);
    expect(gets('dead.ndjson')).toHaveLength(4);
  });

  it('replaced while it was read: a ManifestError naming the object, nothing of the new version read', async () => {
    await put('moved.ndjson', Buffer.alloc(40_000, 'a'));
    proxy.cut('/moved.ndjson', 5_000);
    const object = await openS3Manifest(s3, { bucket, key: 'moved.ndjson' });
    const read: Buffer[] = [];
    const error = await (async () => {
      for await (const chunk of object.chunks) {
        read.push(Buffer.from(chunk));
        if (read.length === 1) await put('moved.ndjson', Buffer.alloc(40_000, 'b'));
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toBe(
      `manifest: "s3://${bucket}/moved.ndjson" changed while it was read`,
    );
    expect(Buffer.concat(read).includes('b')).toBe(false);
  });

  it('let go, it is not reopened', async () => {
    await put('gone.ndjson', randomBytes(200_000));
    proxy.cut('/gone.ndjson', 20_000);
    const object = await openS3Manifest(s3, { bucket, key: 'gone.ndjson' });
    const iterator = object.chunks[Symbol.asyncIterator]();
    await iterator.next();
    letGo(object.chunks);
    await iterator.next().catch(() => undefined);
    expect(gets('gone.ndjson')).toHaveLength(1);
  });
});
