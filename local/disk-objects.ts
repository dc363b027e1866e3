// S3 objects the one local endpoint serves from a file on disk instead of the S3 emulator, which keeps every
// object whole in memory (fauxqs: one Buffer each; a million-task manifest is 60 MB of the run's RSS). A file
// registered here is copied into a private directory (mode 0700, the copy 0600) and hashed in the same pass:
// the object is a snapshot, as an upload to S3 is, so a file edited while its job runs cannot change what a
// continuation reads under the same ETag. Reads are answered by disk-object-answer.ts; a write to the key that
// succeeds (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject) unregisters it and the emulator's
// object is read from then on. The copies are removed on close; those of a process killed outright are removed
// by the next process that makes such a directory (stale-copies.ts).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError } from '../lib/errors.js';
import { copiesPrefixOf, removeStaleCopies } from './stale-copies.js';

export interface DiskObject {
  readonly bucket: string;
  readonly key: string;
  /** The private copy the object is read from. */
  readonly file: string;
  readonly size: number;
  /** Quoted, as S3 sends it: the MD5 of the bytes, as S3's ETag of an object put whole. */
  readonly etag: string;
  readonly lastModified: Date;
  readonly contentType: string;
  /** User metadata (x-amz-meta-NAME), lowercase names: a copy's (CopyObject with REPLACE), none otherwise. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface RegisterOptions {
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export class DiskObjects {
  readonly #objects = new Map<string, DiskObject>();
  #dir: Promise<string> | undefined;
  #copies = 0;
  #closed = false;

  /** Copies `source` and serves it as s3://bucket/key from now on (replacing an earlier one of that key). */
  async register(
    bucket: string,
    key: string,
    source: string,
    { contentType = 'application/octet-stream', metadata = {} }: RegisterOptions = {},
  ): Promise<DiskObject> {
    if (typeof bucket !== 'string' || bucket === '')
      throw new InvalidArgumentError('bucket', bucket, 'a bucket name');
    if (typeof key !== 'string' || key === '') throw new InvalidArgumentError('key', key, 'an object key');
    if (this.#closed) throw new Error(`DiskObjects: closed, s3://${bucket}/${key} cannot be registered`);
    this.#dir ??= removeStaleCopies(tmpdir()).then(() =>
      mkdtemp(join(tmpdir(), copiesPrefixOf(process.pid))),
    );
    const file = join(await this.#dir, `${++this.#copies}.object`);
    const { size, md5 } = await copyHashed(source, file);
    const object: DiskObject = {
      bucket,
      key,
      file,
      size,
      etag: `"${md5}"`,
      // Whole seconds, as S3 keeps it: the Last-Modified sent back in If-Modified-Since compares equal.
      lastModified: new Date(Math.floor(Date.now() / 1000) * 1000),
      contentType,
      metadata: { ...metadata },
    };
    const old = this.#objects.get(idOf(bucket, key));
    this.#objects.set(idOf(bucket, key), object);
    if (old) await unlink(old.file).catch(() => {});
    return object;
  }

  get(bucket: string, key: string): DiskObject | undefined {
    return this.#objects.get(idOf(bucket, key));
  }

  /** The disk-held objects of `bucket` (the run holds one or two: a scan, not an index). */
  inBucket(bucket: string): DiskObject[] {
    return [...this.#objects.values()].filter((object) => object.bucket === bucket);
  }

  /** Disk-held objects now. */
  get size(): number {
    return this.#objects.size;
  }

  /**
   * Stops serving s3://bucket/key from disk, at once (a read after this goes to the emulator), and removes the
   * copy. A read already streaming keeps its open file (unlinking does not cut it short).
   */
  unregister(bucket: string, key: string): Promise<boolean> {
    const known = this.#objects.has(idOf(bucket, key));
    return this.#drop(bucket, key).then(() => known);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#objects.clear();
    if (this.#dir) await rm(await this.#dir, { recursive: true, force: true });
  }

  #drop(bucket: string, key: string): Promise<void> {
    const old = this.#objects.get(idOf(bucket, key));
    if (!old) return Promise.resolve();
    this.#objects.delete(idOf(bucket, key));
    return unlink(old.file).catch(() => {});
  }
}

const idOf = (bucket: string, key: string) => `${bucket}/${key}`;

/** Copies `source` to a new private file, hashing the bytes on the way: one read of the source. */
async function copyHashed(source: string, file: string): Promise<{ size: number; md5: string }> {
  const hash = createHash('md5');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(source), tap, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  return { size, md5: hash.digest('hex') };
}
