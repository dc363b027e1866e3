// ListObjectsV2 and ListObjects (v1) of a bucket with a disk-held object (local/disk-listing.ts), through the
// real AWS SDK against the one local endpoint on a real fauxqs: the disk-held key is listed among the
// emulator's keys in key order, as S3 lists an object, with Prefix, Delimiter (CommonPrefixes), MaxKeys,
// continuation tokens, StartAfter, Marker and KeyCount; a write or delete of the key shows in the next listing.
import { createHash, randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import {
  DeleteObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  PutObjectCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DiskObject } from '../../local/disk-objects.js';
import { type DiskEdge, startDiskEdge } from './fixtures/disk-edge.js';

// A space, a plus, a percent escape, unicode and XML's special characters: each must survive the listing XML.
const HELD = 'manifests/m big+1 é %41&<>.ndjson';
const OTHERS = ['a.txt', 'manifests/a.ndjson', 'manifests/z.ndjson', 'z.txt'];
const ALL = ['a.txt', 'manifests/a.ndjson', HELD, 'manifests/z.ndjson', 'z.txt'];
const body = randomBytes(3000);

let d: DiskEdge;
let bucket: string;
let held: DiskObject;

beforeAll(async () => {
  d = await startDiskEdge();
});

beforeEach(async () => {
  bucket = `listing-${randomBytes(4).toString('hex')}`;
  await d.createBucket(bucket);
  for (const key of OTHERS) await d.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  held = await d.hold(bucket, HELD, body);
});

afterAll(async () => {
  await d?.close();
});

const listV2 = (input: Omit<ListObjectsV2CommandInput, 'Bucket'> = {}) =>
  d.s3.send(new ListObjectsV2Command({ Bucket: bucket, ...input }));

const keysOf = (out: { Contents?: { Key?: string }[] }) => (out.Contents ?? []).map((c) => c.Key);
const prefixesOf = (out: { CommonPrefixes?: { Prefix?: string }[] }) =>
  (out.CommonPrefixes ?? []).map((p) => p.Prefix);

/** Every page of a ListObjectsV2 of `pageSize`, each as its keys then its common prefixes. */
async function pages(pageSize: number, input: Omit<ListObjectsV2CommandInput, 'Bucket'> = {}) {
  const all: { names: (string | undefined)[]; keyCount?: number; truncated?: boolean }[] = [];
  for await (const page of paginateListObjectsV2({ client: d.s3, pageSize }, { Bucket: bucket, ...input })) {
    all.push({
      names: [...keysOf(page), ...prefixesOf(page)],
      keyCount: page.KeyCount,
      truncated: page.IsTruncated,
    });
  }
  return all;
}

describe('ListObjectsV2 with a disk-held key', () => {
  it("lists it among the emulator's keys in key order, with its size, ETag and LastModified", async () => {
    const out = await listV2();
    expect(keysOf(out)).toEqual(ALL);
    expect(out.KeyCount).toBe(5);
    expect(out.IsTruncated).toBe(false);
    const entry = out.Contents?.find((c) => c.Key === HELD);
    expect(entry?.Size).toBe(body.length);
    expect(entry?.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    expect(entry?.LastModified?.getTime()).toBe(held.lastModified.getTime());
  });

  it('Prefix: listed when the prefix is its own, left out otherwise', async () => {
    expect(keysOf(await listV2({ Prefix: 'manifests/' }))).toEqual(ALL.slice(1, 4));
    expect(keysOf(await listV2({ Prefix: 'manifests/m' }))).toEqual([HELD]);
    const none = await listV2({ Prefix: 'q' });
    expect([keysOf(none), none.KeyCount]).toEqual([[], 0]);
  });

  it('Delimiter: under a common prefix of its own, once, beside the emulator keys', async () => {
    await d.hold(bucket, 'held/only.ndjson', 'x'); // its prefix has no emulator key under it
    const out = await listV2({ Delimiter: '/' });
    expect(keysOf(out)).toEqual(['a.txt', 'z.txt']);
    expect(prefixesOf(out)).toEqual(['held/', 'manifests/']);
    expect(out.KeyCount).toBe(4);
    expect(keysOf(await listV2({ Delimiter: '/', Prefix: 'manifests/' }))).toEqual(ALL.slice(1, 4));
  });

  it.each([1, 2, 3, 4])('MaxKeys %i with continuation tokens: every key once, in order', async (size) => {
    const all = await pages(size);
    expect(all.flatMap((p) => p.names)).toEqual(ALL);
    expect(all.every((p) => p.keyCount === p.names.length && p.names.length <= size)).toBe(true);
    expect(all.map((p) => p.truncated)).toEqual(all.map((_, i) => i < all.length - 1));
  });

  it('MaxKeys 1 with a Delimiter: common prefixes and keys page together in key order', async () => {
    await d.hold(bucket, 'held/only.ndjson', 'x');
    const all = await pages(1, { Delimiter: '/' });
    expect(all.flatMap((p) => p.names)).toEqual(['a.txt', 'held/', 'manifests/', 'z.txt']);
  });

  it('StartAfter: listed only when it comes after', async () => {
    expect(keysOf(await listV2({ StartAfter: 'manifests/a.ndjson' }))).toEqual(ALL.slice(2));
    expect(keysOf(await listV2({ StartAfter: HELD }))).toEqual(ALL.slice(3));
  });

  it('reads no file: with its copy removed under it, it is listed from what was kept of it', async () => {
    await unlink(held.file);
    const entry = (await listV2()).Contents?.find((c) => c.Key === HELD);
    expect([entry?.Size, entry?.ETag]).toEqual([body.length, held.etag]);
  });

  it('a bucket whose only key is disk-held lists it', async () => {
    const only = `listing-${randomBytes(4).toString('hex')}`;
    await d.createBucket(only);
    await d.hold(only, HELD, body);
    const out = await d.s3.send(new ListObjectsV2Command({ Bucket: only }));
    expect([keysOf(out), out.KeyCount]).toEqual([[HELD], 1]);
  });
});

describe('ListObjects (v1) with a disk-held key', () => {
  it('lists it in key order; Marker pages of 2 list every key once', async () => {
    const seen: (string | undefined)[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 10; page++) {
      const out = await d.s3.send(new ListObjectsCommand({ Bucket: bucket, MaxKeys: 2, Marker: marker }));
      seen.push(...keysOf(out));
      if (!out.IsTruncated) break;
      marker = out.NextMarker ?? out.Contents?.at(-1)?.Key;
    }
    expect(seen).toEqual(ALL);
    expect(
      keysOf(await d.s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'manifests/m' }))),
    ).toEqual([HELD]);
  });
});

describe('the listing after a write to the key', () => {
  it("PutObject over it: listed once, with the new object's size", async () => {
    await d.s3.send(new PutObjectCommand({ Bucket: bucket, Key: HELD, Body: 'new' }));
    const out = await listV2();
    expect(keysOf(out)).toEqual(ALL);
    expect(out.Contents?.find((c) => c.Key === HELD)?.Size).toBe(3);
  });

  it('DeleteObject: no longer listed', async () => {
    await d.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: HELD }));
    expect(keysOf(await listV2())).toEqual(OTHERS);
  });
});
