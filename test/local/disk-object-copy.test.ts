// CopyObject and UploadPartCopy from a disk-held object (local/disk-object-copy.ts), through the real AWS SDK
// against the one local endpoint on a real fauxqs: the copy reads the disk-held bytes (the emulator never had
// them), with S3's ETag, metadata directive, conditions, its refusal of a copy onto itself unchanged, NoSuchBucket,
// and part copies of byte ranges that complete a multipart upload into the emulator.
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  type CopyObjectCommandInput,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DiskObject } from '../../local/disk-objects.js';
import { type DiskEdge, failure, startDiskEdge } from './fixtures/disk-edge.js';

const HELD = 'manifests/big+1 é %41&<>.ndjson';
const MiB = 1024 * 1024;
// Over fauxqs' 5 MiB least part, so two part copies complete an upload.
const content = randomBytes(6 * MiB + 123);
const md5 = createHash('md5').update(content).digest('hex');

let d: DiskEdge;
let bucket: string;
let held: DiskObject;

beforeAll(async () => {
  d = await startDiskEdge();
});

beforeEach(async () => {
  bucket = `copy-${randomBytes(4).toString('hex')}`;
  await d.createBucket(bucket);
  held = await d.hold(bucket, HELD, content, 'application/x-ndjson');
});

afterAll(async () => {
  await d?.close();
});

/** x-amz-copy-source of the disk-held object: its key escaped, as the SDK wants it. */
const source = () => `${bucket}/${encodeURIComponent(HELD)}`;
const copy = (input: Partial<CopyObjectCommandInput> = {}) =>
  d.s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: 'copy.ndjson',
      CopySource: source(),
      ...input,
    }),
  );

async function bytes(key: string): Promise<Buffer> {
  const out = await d.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

describe('CopyObject from a disk-held object', () => {
  it("copies its bytes with S3's ETag (the MD5) and its Content-Type; the source stays", async () => {
    const out = await copy();
    expect(out.CopyObjectResult?.ETag).toBe(`"${md5}"`);
    expect((await bytes('copy.ndjson')).equals(content)).toBe(true);
    const head = await d.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy.ndjson' }));
    expect([head.ETag, head.ContentType, head.ContentLength]).toEqual([
      `"${md5}"`,
      'application/x-ndjson',
      content.length,
    ]);
    expect((await bytes(HELD)).equals(content)).toBe(true);
    const listed = await d.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((c) => c.Key)).toEqual(['copy.ndjson', HELD]);
  });

  it('REPLACE takes the Content-Type and metadata of the request', async () => {
    await copy({ MetadataDirective: 'REPLACE', ContentType: 'text/plain', Metadata: { job: 'j-1' } });
    const head = await d.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy.ndjson' }));
    expect([head.ContentType, head.Metadata]).toEqual(['text/plain', { job: 'j-1' }]);
  });

  it('over an object of the emulator: the copy is read, listed once', async () => {
    await d.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy.ndjson', Body: 'old' }));
    await copy();
    expect((await bytes('copy.ndjson')).equals(content)).toBe(true);
    const listed = await d.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((c) => [c.Key, c.Size])).toEqual([
      ['copy.ndjson', content.length],
      [HELD, content.length],
    ]);
  });

  it('onto itself: refused 400 InvalidRequest unchanged, taken with REPLACE', async () => {
    expect(await failure(copy({ Key: HELD }))).toEqual({ name: 'InvalidRequest', status: 400 });
    await copy({ Key: HELD, MetadataDirective: 'REPLACE', ContentType: 'text/plain' });
    const head = await d.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: HELD }));
    expect([head.ContentType, head.ETag]).toEqual(['text/plain', `"${md5}"`]);
  });

  it('x-amz-copy-source-if-* that do not hold fail 412 PreconditionFailed; those that hold copy', async () => {
    const before = new Date(held.lastModified.getTime() - 60_000);
    for (const input of [
      { CopySourceIfMatch: '"0123"' },
      { CopySourceIfNoneMatch: `"${md5}"` },
      { CopySourceIfModifiedSince: held.lastModified },
      { CopySourceIfUnmodifiedSince: before },
    ]) {
      expect(await failure(copy(input))).toEqual({ name: 'PreconditionFailed', status: 412 });
    }
    await copy({ CopySourceIfMatch: `"${md5}"`, CopySourceIfModifiedSince: before });
    expect((await bytes('copy.ndjson')).equals(content)).toBe(true);
  });

  it('into a bucket that does not exist: NoSuchBucket', async () => {
    expect(await failure(copy({ Bucket: `copy-missing-${randomBytes(4).toString('hex')}` }))).toEqual({
      name: 'NoSuchBucket',
      status: 404,
    });
  });
});

describe('UploadPartCopy from a disk-held object', () => {
  it('copies byte ranges as parts of an upload that completes into the emulator', async () => {
    const upload = await d.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'parts.bin' }));
    const ranges = [
      [0, 5 * MiB - 1],
      [5 * MiB, content.length - 1],
    ];
    const parts = [];
    for (const [i, [first, last]] of ranges.entries()) {
      const out = await d.s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: 'parts.bin',
          UploadId: upload.UploadId,
          PartNumber: i + 1,
          CopySource: source(),
          CopySourceRange: `bytes=${first}-${last}`,
        }),
      );
      const part = content.subarray(first, last + 1);
      expect(out.CopyPartResult?.ETag).toBe(`"${createHash('md5').update(part).digest('hex')}"`);
      parts.push({ PartNumber: i + 1, ETag: out.CopyPartResult?.ETag });
    }
    await d.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'parts.bin',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    expect((await bytes('parts.bin')).equals(content)).toBe(true);
  });

  it('a range past the object: 400 InvalidArgument', async () => {
    const upload = await d.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'parts.bin' }));
    const out = d.s3.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: 'parts.bin',
        UploadId: upload.UploadId,
        PartNumber: 1,
        CopySource: source(),
        CopySourceRange: `bytes=0-${content.length}`,
      }),
    );
    expect(await failure(out)).toEqual({ name: 'InvalidArgument', status: 400 });
  });
});
