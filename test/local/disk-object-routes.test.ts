// The S3 calls on a disk-held object (local/disk-object-routes.ts) as the AWS CLI makes them, against the one local
// endpoint on a real fauxqs: `aws s3 ls` (ListObjectsV2 with EncodingType url, with and without a delimiter),
// `aws s3 cp` down (HeadObject, then ranged GETs) and bucket to bucket (over 8 MiB: a multipart upload of
// UploadPartCopy parts), `aws s3api delete-objects` and `aws s3 rm --recursive`, skipped where no `aws` is on
// the PATH (the SDK's side of each call is tested in disk-listing, disk-object-copy and disk-batch-delete);
// and DeleteBucket through the SDK: a bucket with a disk-held key is not empty.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DiskEdge, failure, startDiskEdge } from './fixtures/disk-edge.js';

const HAS_AWS = (() => {
  try {
    execFileSync('aws', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const HELD = 'manifests/m big+1 é %41&.ndjson';
const content = randomBytes(9 * 1024 * 1024 + 17); // over the CLI's 8 MiB multipart threshold
const bucket = 'cli-routes';

let d: DiskEdge;
let dir: string;

async function aws(...args: string[]): Promise<string> {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  const run = promisify(execFile)('aws', ['--endpoint-url', d.edge.url, ...args], { env });
  return (await run).stdout;
}

/** The keys `aws s3 ls --recursive` prints, the fourth column on (a key may hold spaces). */
const listed = (out: string) =>
  out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(/\s+/).slice(3).join(' '));

describe.skipIf(!HAS_AWS)('a disk-held object through the AWS CLI', () => {
  beforeAll(async () => {
    d = await startDiskEdge();
    dir = await mkdtemp(join(tmpdir(), 'bf-disk-cli-'));
    await d.createBucket(bucket);
    await d.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'a' }));
    await d.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'manifests/z.ndjson', Body: 'z' }));
    await d.hold(bucket, HELD, content);
  });

  afterAll(async () => {
    await d?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('aws s3 ls lists it in key order, and its prefix as a PRE without --recursive', async () => {
    expect(listed(await aws('s3', 'ls', `s3://${bucket}`, '--recursive'))).toEqual([
      'a.txt',
      HELD,
      'manifests/z.ndjson',
    ]);
    expect(await aws('s3', 'ls', `s3://${bucket}/`)).toMatch(/PRE manifests\/\n.* a\.txt\n$/);
  });

  it('aws s3 cp downloads it, and copies it bucket to bucket in parts', async () => {
    await aws('s3', 'cp', `s3://${bucket}/${HELD}`, join(dir, 'down'), '--only-show-errors');
    expect((await readFile(join(dir, 'down'))).equals(content)).toBe(true);
    await aws('s3', 'cp', `s3://${bucket}/${HELD}`, `s3://${bucket}/copy.bin`, '--only-show-errors');
    await aws('s3', 'cp', `s3://${bucket}/copy.bin`, join(dir, 'copy'), '--only-show-errors');
    expect((await readFile(join(dir, 'copy'))).equals(content)).toBe(true);
  });

  it('aws s3api delete-objects and aws s3 rm --recursive delete it', async () => {
    const batch = JSON.stringify({ Objects: [{ Key: HELD }, { Key: 'a.txt' }] });
    await aws('s3api', 'delete-objects', '--bucket', bucket, '--delete', batch);
    expect(listed(await aws('s3', 'ls', `s3://${bucket}`, '--recursive'))).toEqual([
      'copy.bin',
      'manifests/z.ndjson',
    ]);
    await d.hold(bucket, HELD, content);
    await aws('s3', 'rm', `s3://${bucket}/manifests`, '--recursive', '--only-show-errors');
    expect(listed(await aws('s3', 'ls', `s3://${bucket}`, '--recursive'))).toEqual(['copy.bin']);
  });
});

describe('DeleteBucket of a bucket with a disk-held key', () => {
  let e: DiskEdge;
  beforeAll(async () => {
    e = await startDiskEdge();
  });
  afterAll(async () => {
    await e?.close();
  });

  it('is refused 409 BucketNotEmpty while the key is held, and deletes the bucket once it is gone', async () => {
    await e.createBucket('rb-held');
    await e.hold('rb-held', HELD, 'held');
    const refused = e.s3.send(new DeleteBucketCommand({ Bucket: 'rb-held' }));
    expect(await failure(refused)).toEqual({ name: 'BucketNotEmpty', status: 409 });
    await e.s3.send(new HeadBucketCommand({ Bucket: 'rb-held' })); // still there
    await e.s3.send(new DeleteObjectCommand({ Bucket: 'rb-held', Key: HELD }));
    await e.s3.send(new DeleteBucketCommand({ Bucket: 'rb-held' }));
    expect((await failure(e.s3.send(new HeadBucketCommand({ Bucket: 'rb-held' })))).status).toBe(404);
  });
});
