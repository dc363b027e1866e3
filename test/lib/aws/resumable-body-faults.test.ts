// A resumable S3 body (lib/aws/resumable-body.ts) against the faults S3's emulators cannot make, through the
// real SDK and a real 127.0.0.1 server answering GetObject (test/helpers/fake-s3-object.ts): an error at the
// body's end (the SDK's checksum check) is the reader's, never taken for a read that got it all; a range
// answer that does not reach the object's end is not read as its rest; a body let go while a reopen waits or
// asks neither asks again nor keeps the ask's socket.
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResumableBody } from '../../../lib/aws/resumable-body.js';
import { letGo, openS3Manifest, rangeReopen } from '../../../lib/aws/s3-manifest.js';
import { localCredentials } from '../../../local/resources.js';
import { type FakeS3Faults, type FakeS3Object, startFakeS3Object } from '../../helpers/fake-s3-object.js';

const location = { bucket: 'manifests', key: 'job.ndjson' };
let fake: FakeS3Object | undefined;
let s3: S3Client | undefined;

afterEach(async () => {
  s3?.destroy();
  await fake?.stop();
});

async function serve(body: Buffer, faults: FakeS3Faults): Promise<S3Client> {
  fake = await startFakeS3Object(body, faults);
  s3 = new S3Client({
    endpoint: fake.endpoint,
    region: 'us-east-1',
    credentials: localCredentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  return s3;
}

/** Chunks until `bytes` were read; the iterator, for the next read to meet the cut. */
async function readUpTo(chunks: AsyncIterable<Uint8Array>, bytes: number) {
  const iterator = chunks[Symbol.asyncIterator]();
  for (let read = 0; read < bytes; ) {
    const next = await iterator.next();
    if (next.done) throw new Error(`ended after ${read} bytes`);
    read += next.value.byteLength;
  }
  return iterator;
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: number; error?: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of chunks) bytes += chunk.byteLength;
    return { bytes };
  } catch (error) {
    return { bytes, error };
  }
}

describe('a resumable S3 body', () => {
  it('whose checksum fails at its end: the read fails, as the SDK said', async () => {
    const client = await serve(randomBytes(20_000), { wrongChecksum: true });
    const object = await openS3Manifest(client, location);
    const { error } = await readAll(object.chunks);
    expect(String(error)).toMatch(/Checksum mismatch/);
    expect(fake?.gets).toHaveLength(1);
  });

  it('cut mid-body under the SDK’s checksum check (S3 sends one for the whole object): read on, every byte', async () => {
    const bytes = randomBytes(200_000);
    const client = await serve(bytes, { cutFirstAt: 70_000, wrongChecksum: true });
    const object = await openS3Manifest(client, location);
    const parts: Buffer[] = [];
    for await (const chunk of object.chunks) parts.push(Buffer.from(chunk));
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);
    expect(fake?.gets.map((g) => g.range)).toEqual([undefined, 'bytes=70000-']);
  });

  it('closed cleanly mid-body (a FIN, no reset) under the SDK’s checksum check: read on, every byte', async () => {
    const bytes = randomBytes(200_000);
    const client = await serve(bytes, { cutFirstAt: 70_000, cutCleanly: true, wrongChecksum: true });
    const object = await openS3Manifest(client, location);
    const parts: Buffer[] = [];
    for await (const chunk of object.chunks) parts.push(Buffer.from(chunk));
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);
    expect(fake?.gets.map((g) => g.range)).toEqual([undefined, 'bytes=70000-']);
  });

  it('cut, then answered a range short of the end: not read as the rest, the cut stands', async () => {
    const client = await serve(randomBytes(20_000), { cutFirstAt: 5_000, rangeBytes: 1_000 });
    const object = await openS3Manifest(client, location);
    const { bytes, error } = await readAll(object.chunks);
    expect(error).toBeInstanceOf(Error);
    expect(bytes).toBe(5_000);
    expect(fake?.gets.map((g) => g.range)).toEqual([undefined, 'bytes=5000-']);
  });

  it('let go while its reopen waits to ask: no ask is made', async () => {
    const client = await serve(randomBytes(20_000), { cutFirstAt: 5_000 });
    const out = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    let sleeping!: () => void;
    const asleep = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const body = new ResumableBody({
      body: out.Body as AsyncIterable<Uint8Array>,
      size: out.ContentLength,
      reopen: rangeReopen(client, location, fake!.etag),
      where: 's3://manifests/job.ndjson',
      sleep: () => {
        sleeping();
        return woken;
      },
    });
    const iterator = await readUpTo(body, 5_000);
    const pending = iterator.next().catch((e: unknown) => e);
    await asleep;
    letGo(body);
    wake();
    expect(await pending).toBeInstanceOf(Error);
    expect(fake?.gets).toHaveLength(1);
  });

  it('let go while its reopen asks: the ask is given up, its socket closed', async () => {
    const client = await serve(randomBytes(20_000), { cutFirstAt: 5_000, holdRanges: true });
    const object = await openS3Manifest(client, location);
    const iterator = await readUpTo(object.chunks, 5_000);
    const pending = iterator.next().catch((e: unknown) => e);
    await vi.waitFor(() => expect(fake?.gets).toHaveLength(2), { timeout: 10_000 });
    letGo(object.chunks);
    // Unanswered, the ask would hold its socket until the client's socket timeout.
    await fake?.gets[1].closed;
    expect(await pending).toBeInstanceOf(Error);
    expect(fake?.gets).toHaveLength(2);
  }, 15_000);
});
