import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { ManifestError } from '../manifest/errors.js';
import { type DeclaredFormat, declaredFormat } from '../manifest/format.js';
import { type Manifest, parseManifestStream } from '../manifest/parse.js';
import type { JobHeader } from '../manifest/schema.js';
import { ResumableBody } from './resumable-body.js';
import { httpStatusOf, letGo } from './s3-answers.js';

export { letGo } from './s3-answers.js';

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

export interface S3ManifestObject {
  /** The body as a stream of chunks: never read whole. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** The object's ETag: continuations read the same version or fail. */
  readonly etag?: string;
  /** What the key's extension or the content type declares (the bytes decide when they can: format.ts). */
  readonly declared: DeclaredFormat;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket/key` to its parts; a ManifestError naming `manifest` otherwise. */
export function parseS3Uri(uri: unknown): S3Location {
  const bad = (why: string) => ManifestError.of('manifest', `${JSON.stringify(uri)} ${why}`);
  if (typeof uri !== 'string') throw bad('is not an s3://bucket/key string');
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw bad('is not an s3://bucket/key URI');
  const [, bucket, key] = match;
  if (!BUCKET.test(bucket)) throw bad(`names an invalid bucket "${bucket}"`);
  return { bucket, key };
}

/**
 * A job id from the key's file name (`manifests/nightly.ndjson` -> `nightly`), for manifests naming none. What a
 * job id may not hold becomes "-", ":" too (it separates the ids in keys: lib/manifest/schema.ts JobIdSchema).
 */
export function jobIdFromKey(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1).replace(/\.[^.]*$/, '');
  const cleaned = base.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (cleaned || 'job').slice(0, 128);
}

/**
 * Opens the manifest object as a stream. With `etag`, the read is conditional (If-Match): a manifest
 * replaced while its job runs fails the continuation with a named error instead of mixing two versions.
 */
export async function openS3Manifest(
  s3: S3Client,
  location: S3Location,
  etag?: string,
): Promise<S3ManifestObject> {
  let out: GetObjectCommandOutput;
  try {
    out = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key, IfMatch: etag }));
  } catch (error) {
    const name = (error as { name?: string }).name ?? 'Error';
    const where = `s3://${location.bucket}/${location.key}`;
    if (name === 'PreconditionFailed') {
      throw ManifestError.of('manifest', `${JSON.stringify(where)} changed while the job ran (ETag ${etag})`);
    }
    if (name === 'NoSuchKey' || name === 'NoSuchBucket' || name === 'NotFound') {
      throw ManifestError.of('manifest', `${JSON.stringify(where)} does not exist (${name})`);
    }
    // S3 answers a missing key with 403, not 404, to a caller that may not list the bucket (the
    // orchestrator's role may read manifests/ but not list it): missing and unreadable look the same. A
    // retry cannot change either, so it is refused, not thrown (a throw is retried, then dead-lettered).
    if (name === 'AccessDenied' || httpStatusOf(error) === 403) {
      throw ManifestError.of(
        'manifest',
        `${JSON.stringify(where)} is missing or may not be read (403 ${name}: S3 answers 403, not 404, for a missing key when the reader may not list the bucket)`,
      );
    }
    throw error;
  }
  const body = out.Body as AsyncIterable<Uint8Array> | undefined;
  if (!body || typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') {
    throw ManifestError.of('manifest', 'has no readable body');
  }
  return {
    chunks: resumable(s3, location, out, body),
    etag: out.ETag,
    declared: declaredFormat(location.key, out.ContentType),
  };
}

/**
 * The body, read on past a connection lost mid-read from where it broke (lib/aws/resumable-body.ts): the same
 * version only, so not without an ETag to pin it.
 */
function resumable(
  s3: S3Client,
  location: S3Location,
  { ETag, ContentLength }: GetObjectCommandOutput,
  body: AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  if (!ETag) return body;
  const reopen = rangeReopen(s3, location, ETag);
  return new ResumableBody({
    body,
    size: ContentLength,
    reopen,
    where: `s3://${location.bucket}/${location.key}`,
  });
}

/** GetObject of the version `etag` names from byte `offset` on (ResumableBodyOptions.reopen). */
export function rangeReopen(s3: S3Client, { bucket, key }: S3Location, etag: string) {
  return async (offset: number, abortSignal: AbortSignal) => {
    const range = `bytes=${offset}-`;
    const get = new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag, Range: range });
    const out = await s3.send(get, { abortSignal });
    return { body: out.Body as AsyncIterable<Uint8Array>, contentRange: out.ContentRange };
  };
}

/** A job's manifest in S3, opened, its header read; its tasks follow lazily from `manifest.items`. */
export interface OpenedS3Manifest {
  readonly location: S3Location;
  readonly object: S3ManifestObject;
  readonly manifest: Manifest;
}

/**
 * Opens the manifest at `uri` and reads its header as a run's first segment does: the event's `overrides` win
 * over the file's own fields, and a job the file names no id for is named after its key. A header that does
 * not parse lets the object's body go (nothing reads it any more).
 */
export async function readS3Manifest(
  s3: S3Client,
  uri: unknown,
  overrides: Readonly<Record<string, unknown>>,
): Promise<OpenedS3Manifest> {
  const location = parseS3Uri(uri);
  const object = await openS3Manifest(s3, location);
  try {
    const manifest = await parseManifestStream(object.chunks, {
      declared: object.declared,
      overrides,
      defaultJobId: jobIdFromKey(location.key),
    });
    return { location, object, manifest };
  } catch (error) {
    letGo(object.chunks);
    throw error;
  }
}

/**
 * The manifest's header only, read as readS3Manifest reads it (the event's `overrides` win); the rest of the
 * object is let go unread.
 */
export async function readS3Header(
  s3: S3Client,
  uri: unknown,
  overrides: Readonly<Record<string, unknown>>,
): Promise<JobHeader> {
  const { object, manifest } = await readS3Manifest(s3, uri, overrides);
  letGo(object.chunks);
  return manifest.header;
}
