// Disk-held S3 objects (local/disk-objects.ts, disk-object-answer.ts) through the real AWS SDK S3 client against
// the one local endpoint, on a real fauxqs behind it: GET and HEAD with what S3 sends (ETag, Content-Length,
// Last-Modified, Content-Type), each Range form and 416, If-Match (412) and If-None-Match (304), NoSuchKey, the
// orchestrator's own manifest reader (lib/aws/s3-manifest.ts) with its If-Match, and a write to the key that
// replaces or deletes the object (the emulator's answer from then on). The emulator never holds the object.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openS3Manifest } from '../../lib/aws/s3-manifest.js';
import { ManifestError } from '../../lib/manifest/errors.js';
import type { DiskObject } from '../../local/disk-objects.js';
import { Edge } from '../../local/edge.js';
import { type Emulators, startEmulators } from '../../local/emulators.js';
import { failure } from './fixtures/disk-edge.js';

const region = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const bucket = 'disk-objects';
const key = 'manifests/big tasks+1.ndjson'; // a space and a plus: the key as the SDK escapes it
// Over one 64 KiB read, so a whole GET and a long range stream in several chunks.
const content = randomBytes(200_000);
const SIZE = content.length;
const md5 = createHash('md5').update(content).digest('hex');

let emulators: Emulators;
let edge: Edge;
let s3: S3Client;
let direct: S3Client;
let dir: string;
let source: string;
let object: DiskObject;

beforeAll(async () => {
  emulators = await startEmulators({ region });
  edge = await Edge.start({ upstreams: emulators.endpoints, listen: { host: '127.0.0.1', port: 0 } });
  s3 = new S3Client({ endpoint: edge.url, region, credentials, forcePathStyle: true });
  direct = new S3Client({ endpoint: emulators.endpoints.s3, region, credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  dir = await mkdtemp(join(tmpdir(), 'bf-disk-objects-'));
  source = join(dir, 'tasks.ndjson');
});

beforeEach(async () => {
  await writeFile(source, content);
  object = await edge.diskObjects.register(bucket, key, source, { contentType: 'application/x-ndjson' });
});

afterAll(async () => {
  s3?.destroy();
  direct?.destroy();
  await edge?.close();
  await emulators?.stop();
  await rm(dir, { recursive: true, force: true });
});

const get = (
  extra: {
    Range?: string;
    IfMatch?: string;
    IfNoneMatch?: string;
    IfModifiedSince?: Date;
    IfUnmodifiedSince?: Date;
  } = {},
) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));

async function bytesOf(extra: Parameters<typeof get>[0]): Promise<{ body: Buffer; range?: string }> {
  const out = await get(extra);
  return { body: Buffer.from((await out.Body?.transformToByteArray()) ?? []), range: out.ContentRange };
}

describe('GetObject and HeadObject of a disk-held object', () => {
  it('GET answers the bytes with the ETag (the MD5, as S3 gives an object put whole) and its headers', async () => {
    const out = await get();
    expect(Buffer.from((await out.Body?.transformToByteArray()) ?? []).equals(content)).toBe(true);
    expect(out.ETag).toBe(`"${md5}"`);
    expect(out.ContentLength).toBe(SIZE);
    expect(out.ContentType).toBe('application/x-ndjson');
    expect(out.AcceptRanges).toBe('bytes');
    expect(out.LastModified?.getTime()).toBe(Math.floor(object.lastModified.getTime() / 1000) * 1000);
  });

  it('HEAD answers the same headers and no body', async () => {
    const out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect([out.ETag, out.ContentLength, out.ContentType]).toEqual([
      `"${md5}"`,
      SIZE,
      'application/x-ndjson',
    ]);
  });

  it('the S3 emulator never holds it: asked directly, it has no such key', async () => {
    expect(await failure(direct.send(new GetObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({
      name: 'NoSuchKey',
      status: 404,
    });
  });

  it('is a snapshot: the file edited after it was registered does not change what is read', async () => {
    await writeFile(source, 'changed');
    expect((await bytesOf({})).body.equals(content)).toBe(true);
  });
});

describe('Range', () => {
  it.each([
    ['bytes=10-19', 10, 19],
    ['bytes=0-0', 0, 0],
    [`bytes=${SIZE - 10}-`, SIZE - 10, SIZE - 1],
    ['bytes=70000-', 70_000, SIZE - 1],
    ['bytes=-7', SIZE - 7, SIZE - 1],
    [`bytes=-${SIZE * 2}`, 0, SIZE - 1], // a suffix longer than the object is all of it
    [`bytes=5-${SIZE + 100}`, 5, SIZE - 1], // an end past the object stops at its last byte
  ])('%s answers 206 with bytes %i to %i and Content-Range', async (range, start, end) => {
    const { body, range: contentRange } = await bytesOf({ Range: range });
    expect(body.equals(content.subarray(start, end + 1))).toBe(true);
    expect(contentRange).toBe(`bytes ${start}-${end}/${SIZE}`);
  });

  it.each([`bytes=${SIZE}-`, `bytes=${SIZE + 5}-${SIZE + 9}`, 'bytes=-0'])(
    '%s cannot be satisfied: 416 InvalidRange',
    async (range) => {
      expect(await failure(get({ Range: range }))).toEqual({ name: 'InvalidRange', status: 416 });
    },
  );

  it.each(['bytes=9-3', 'bytes=0-1,5-6', 'items=0-1'])(
    '%s is not one byte range: ignored, the whole object answered',
    async (range) => {
      const { body, range: contentRange } = await bytesOf({ Range: range });
      expect([body.equals(content), contentRange]).toEqual([true, undefined]);
    },
  );
});

describe('PartNumber', () => {
  it('1 is the whole object, answered as a range: 206 with Content-Range, GET and HEAD', async () => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1 }));
    expect(Buffer.from((await out.Body?.transformToByteArray()) ?? []).equals(content)).toBe(true);
    expect([out.$metadata.httpStatusCode, out.ContentRange]).toEqual([206, `bytes 0-${SIZE - 1}/${SIZE}`]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1 }));
    expect([head.$metadata.httpStatusCode, head.ContentLength]).toEqual([206, SIZE]);
  });

  it('2 is past its one part: 416 InvalidPartNumber; with a Range too: 400 InvalidRequest', async () => {
    const past = s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 2 }));
    expect(await failure(past)).toEqual({ name: 'InvalidPartNumber', status: 416 });
    const both = s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1, Range: 'bytes=0-1' }),
    );
    expect(await failure(both)).toEqual({ name: 'InvalidRequest', status: 400 });
  });
});

describe('conditions', () => {
  it('If-Match with the ETag (or *) reads it; with another ETag fails 412 PreconditionFailed, GET and HEAD', async () => {
    expect((await bytesOf({ IfMatch: `"${md5}"` })).body.equals(content)).toBe(true);
    expect((await bytesOf({ IfMatch: '*' })).body.equals(content)).toBe(true);
    expect(await failure(get({ IfMatch: '"0123"' }))).toEqual({ name: 'PreconditionFailed', status: 412 });
    const head = s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfMatch: '"0123"' }));
    expect((await failure(head)).status).toBe(412);
  });

  it('If-Match is checked before Range: a wrong ETag fails 412 even for a range past the end', async () => {
    expect(await failure(get({ IfMatch: '"0123"', Range: `bytes=${SIZE}-` }))).toMatchObject({ status: 412 });
  });

  it('If-None-Match with the ETag answers 304 Not Modified', async () => {
    expect((await failure(get({ IfNoneMatch: `"${md5}"` }))).status).toBe(304);
    expect((await bytesOf({ IfNoneMatch: '"0123"' })).body.equals(content)).toBe(true);
  });

  it('If-Modified-Since its Last-Modified answers 304; an earlier date reads it', async () => {
    const { LastModified } = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const earlier = new Date((LastModified?.getTime() ?? 0) - 60_000);
    expect((await failure(get({ IfModifiedSince: LastModified }))).status).toBe(304);
    expect((await bytesOf({ IfModifiedSince: earlier })).body.equals(content)).toBe(true);
  });

  it('If-Unmodified-Since an earlier date fails 412; its Last-Modified reads it', async () => {
    const { LastModified } = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const earlier = new Date((LastModified?.getTime() ?? 0) - 60_000);
    expect(await failure(get({ IfUnmodifiedSince: earlier }))).toEqual({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect((await bytesOf({ IfUnmodifiedSince: LastModified })).body.equals(content)).toBe(true);
  });

  it('the ETag conditions win over the dates, as S3 orders them', async () => {
    const { LastModified } = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const earlier = new Date((LastModified?.getTime() ?? 0) - 60_000);
    // If-Match holds: If-Unmodified-Since is not looked at. If-None-Match holds: If-Modified-Since is not.
    expect((await bytesOf({ IfMatch: `"${md5}"`, IfUnmodifiedSince: earlier })).body.equals(content)).toBe(
      true,
    );
    expect(
      (await bytesOf({ IfNoneMatch: '"0123"', IfModifiedSince: LastModified })).body.equals(content),
    ).toBe(true);
  });

  it('the response-* parameters override the headers of the answer', async () => {
    const out = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ResponseContentType: 'text/plain',
        ResponseContentDisposition: 'attachment; filename="t.ndjson"',
        ResponseCacheControl: 'no-cache',
      }),
    );
    expect([out.ContentType, out.ContentDisposition, out.CacheControl]).toEqual([
      'text/plain',
      'attachment; filename="t.ndjson"',
      'no-cache',
    ]);
    expect(Buffer.from((await out.Body?.transformToByteArray()) ?? []).equals(content)).toBe(true);
  });

  it("the orchestrator's reader: its ETag, then a continuation with it, then one with another ETag", async () => {
    const where = { bucket, key };
    const opened = await openS3Manifest(s3, where);
    expect(opened.etag).toBe(`"${md5}"`);
    for await (const _ of opened.chunks); // read to the end, as the orchestrator does
    const again = await openS3Manifest(s3, where, opened.etag);
    const chunks: Uint8Array[] = [];
    for await (const chunk of again.chunks) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
    const changed = openS3Manifest(s3, where, '"0123"');
    await expect(changed).rejects.toBeInstanceOf(ManifestError);
    await expect(changed).rejects.toThrow(/changed while the job ran \(ETag "0123"\)/);
  });
});

describe('a write to the key, and a copy gone', () => {
  it('PutObject replaces it: the new object is read from the emulator, the copy is removed', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'replaced' }));
    expect(edge.diskObjects.get(bucket, key)).toBeUndefined();
    // The copy is unlinked after the answer (the emulator's object is already the one read): wait for it.
    await vi.waitFor(() => expect(existsSync(object.file)).toBe(false));
    const out = await get();
    expect(await out.Body?.transformToString()).toBe('replaced');
    expect(out.ETag).not.toBe(`"${md5}"`);
    // The continuation that read the disk object's version fails, as it would on S3.
    await expect(openS3Manifest(s3, { bucket, key }, `"${md5}"`)).rejects.toThrow(
      /changed while the job ran/,
    );
  });

  it('DeleteObject removes it: NoSuchKey to a GET, 404 to a HEAD', async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    expect(await failure(get())).toEqual({ name: 'NoSuchKey', status: 404 });
    const head = s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(await failure(head)).toEqual({ name: 'NotFound', status: 404 });
  });

  it('conditional writes are judged on it: If-None-Match * and a wrong If-Match fail 412, the object stays', async () => {
    const put = (extra: { IfMatch?: string; IfNoneMatch?: string }) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'replaced', ...extra }));
    expect(await failure(put({ IfNoneMatch: '*' }))).toEqual({ name: 'PreconditionFailed', status: 412 });
    expect(await failure(put({ IfMatch: '"0123"' }))).toEqual({ name: 'PreconditionFailed', status: 412 });
    const del = s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: '"0123"' }));
    expect(await failure(del)).toEqual({ name: 'PreconditionFailed', status: 412 });
    expect((await bytesOf({})).body.equals(content)).toBe(true);
    await put({ IfMatch: `"${md5}"` });
    expect(await (await get()).Body?.transformToString()).toBe('replaced');
  });

  it('a copy removed under it answers NoSuchKey, with the S3 XML error the SDK reads', async () => {
    await unlink(object.file);
    expect(await failure(get())).toEqual({ name: 'NoSuchKey', status: 404 });
  });

  it("other keys of the bucket are the emulator's, as before", async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'manifests/other.ndjson', Body: 'other' }));
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'manifests/other.ndjson' }));
    expect(await out.Body?.transformToString()).toBe('other');
    expect(edge.diskObjects.get(bucket, key)).toBe(object);
  });

  it('a key registered again is replaced by the new copy, the old copy removed', async () => {
    await writeFile(source, 'second version');
    const second = await edge.diskObjects.register(bucket, key, source);
    expect(existsSync(object.file)).toBe(false);
    expect((await bytesOf({})).body.toString()).toBe('second version');
    expect(second.etag).toBe(`"${createHash('md5').update('second version').digest('hex')}"`);
  });
});

describe('DiskObjects', () => {
  it('refuses an empty bucket or key, naming it', async () => {
    await expect(edge.diskObjects.register('', key, source)).rejects.toThrow(/`bucket`/);
    await expect(edge.diskObjects.register(bucket, '', source)).rejects.toThrow(/`key`/);
  });

  it('close removes the private copies with their directory', async () => {
    const own = await Edge.start({ upstreams: emulators.endpoints, listen: { host: '127.0.0.1', port: 0 } });
    const held = await own.diskObjects.register(bucket, key, source);
    expect(existsSync(held.file)).toBe(true);
    await own.close();
    expect(existsSync(dirname(held.file))).toBe(false);
  });
});
