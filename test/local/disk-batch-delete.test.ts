// DeleteObjects (the batch delete, POST ?delete) naming a disk-held object (local/disk-batch-delete.ts), through
// the real AWS SDK against the one local endpoint on a real fauxqs: the disk-held key is deleted with the
// emulator's keys of the batch, as S3 deletes it, and only when the batch names it in its own bucket.
import { randomBytes } from 'node:crypto';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_DELETE_BODY_BYTES } from '../../local/disk-batch-delete.js';
import { escapeXml } from '../../local/escape-xml.js';
import { type DiskEdge, failure, startDiskEdge } from './fixtures/disk-edge.js';

const HELD = 'manifests/big+1 é %41&<>.ndjson';

let d: DiskEdge;
let bucket: string;

beforeAll(async () => {
  d = await startDiskEdge();
});

beforeEach(async () => {
  bucket = `batch-${randomBytes(4).toString('hex')}`;
  await d.createBucket(bucket);
  await d.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other.txt', Body: 'other' }));
  await d.hold(bucket, HELD, 'held bytes');
});

afterAll(async () => {
  await d?.close();
});

const deleteBatch = (keys: string[], quiet = false, inBucket = bucket) =>
  d.s3.send(
    new DeleteObjectsCommand({
      Bucket: inBucket,
      Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: quiet },
    }),
  );

const keys = async () =>
  ((await d.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((c) => c.Key);

describe('DeleteObjects naming a disk-held key', () => {
  it("deletes it with the emulator's keys: reported Deleted, then NoSuchKey and no longer listed", async () => {
    const out = await deleteBatch([HELD, 'other.txt']);
    expect((out.Deleted ?? []).map((x) => x.Key).sort()).toEqual([HELD, 'other.txt'].sort());
    expect(out.Errors ?? []).toEqual([]);
    expect(d.edge.diskObjects.get(bucket, HELD)).toBeUndefined();
    const get = d.s3.send(new GetObjectCommand({ Bucket: bucket, Key: HELD }));
    expect(await failure(get)).toEqual({ name: 'NoSuchKey', status: 404 });
    expect(await keys()).toEqual([]);
  });

  it('Quiet: deleted all the same', async () => {
    await deleteBatch([HELD], true);
    expect(d.edge.diskObjects.get(bucket, HELD)).toBeUndefined();
    expect(await keys()).toEqual(['other.txt']);
  });

  it('a batch that does not name it leaves it', async () => {
    await deleteBatch(['other.txt', 'manifests/big+1']);
    expect(await keys()).toEqual([HELD]);
    const out = await d.s3.send(new GetObjectCommand({ Bucket: bucket, Key: HELD }));
    expect(await out.Body?.transformToString()).toBe('held bytes');
  });

  it('a batch in another bucket naming the same key leaves it', async () => {
    const other = `batch-${randomBytes(4).toString('hex')}`;
    await d.createBucket(other);
    await deleteBatch([HELD], false, other);
    expect(await keys()).toEqual([HELD, 'other.txt']);
  });

  it('a body over 8 MiB is refused 400 MaxMessageLengthExceeded, and deletes nothing', async () => {
    const body = `<Delete><Object><Key>${escapeXml(HELD)}</Key></Object>${' '.repeat(MAX_DELETE_BODY_BYTES)}</Delete>`;
    const answer = await fetch(`${d.edge.url}/${bucket}?delete`, { method: 'POST', body });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('<Code>MaxMessageLengthExceeded</Code>');
    expect(await keys()).toEqual([HELD, 'other.txt']);
  });
});
