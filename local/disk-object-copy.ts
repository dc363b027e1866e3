// CopyObject and UploadPartCopy whose source (x-amz-copy-source) is a disk-held object (disk-objects.ts), which
// the emulator does not have. CopyObject makes the destination another disk-held object, copied file to file:
// the emulator never holds the bytes (a manifest copied whole is as large as the manifest), the ETag is the
// source's MD5 as S3's for a copy, and the x-amz-metadata-directive is honoured (COPY keeps the Content-Type and
// metadata, REPLACE takes the request's). An emulator object of the destination key is deleted, which also
// checks that the bucket exists. UploadPartCopy sends the part's byte range (x-amz-copy-source-range) to the
// emulator's UploadPart, streamed from the file. The x-amz-copy-source-if-* conditions fail 412 as S3's do.
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { s3Error } from './disk-object-answer.js';
import type { DiskObject, DiskObjects } from './disk-objects.js';
import { escapeXml } from './escape-xml.js';
import { ConditionOutcomes, conditionOutcome } from './s3-conditions.js';
import { replyWith, type UpstreamAnswer, type UpstreamRequest } from './upstream-exchange.js';

type Exchange = (call: UpstreamRequest) => Promise<UpstreamAnswer>;

/** The disk-held object a PUT copies from, or undefined (not a copy, another version, or not disk-held). */
export function copySourceOf(req: IncomingMessage, objects: DiskObjects): DiskObject | undefined {
  const header = req.headers['x-amz-copy-source'];
  if (req.method !== 'PUT' || typeof header !== 'string') return undefined;
  const q = header.indexOf('?');
  const version = q < 0 ? null : new URLSearchParams(header.slice(q + 1)).get('versionId');
  if (version !== null && version !== 'null') return undefined; // a disk-held object has no other version
  let path: string;
  try {
    path = decodeURIComponent(q < 0 ? header : header.slice(0, q)).replace(/^\//, '');
  } catch {
    return undefined;
  }
  const slash = path.indexOf('/');
  return slash <= 0 ? undefined : objects.get(path.slice(0, slash), path.slice(slash + 1));
}

/** Answers a copy from `source` to s3://bucket/key (an object, or a part of an upload when the URL names one). */
export async function copyFromDisk(
  req: IncomingMessage,
  res: ServerResponse,
  source: DiskObject,
  destination: { bucket: string; key: string },
  objects: DiskObjects,
  exchange: Exchange,
): Promise<void> {
  req.resume(); // a copy has no body
  const { outcome, condition } = conditionOutcome(req.headers, source, 'x-amz-copy-source-');
  if (outcome !== ConditionOutcomes.PROCEED) {
    const message = 'At least one of the pre-conditions you specified did not hold';
    const named = `x-amz-copy-source-${condition ?? 'If-None-Match'}`;
    return s3Error(res, false, 412, 'PreconditionFailed', message, { Condition: named });
  }
  const q = (req.url ?? '/').indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : (req.url ?? '/').slice(q + 1));
  if (params.has('uploadId')) return copyPart(req, res, source, exchange);
  return copyObject(req, res, source, destination, objects, exchange);
}

async function copyObject(
  req: IncomingMessage,
  res: ServerResponse,
  source: DiskObject,
  { bucket, key }: { bucket: string; key: string },
  objects: DiskObjects,
  exchange: Exchange,
): Promise<void> {
  const replace = String(req.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase() === 'REPLACE';
  if (!replace && source.bucket === bucket && source.key === key) {
    const message =
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.";
    return s3Error(res, false, 400, 'InvalidRequest', message);
  }
  const path = (req.url ?? '/').split('?')[0];
  const removed = await exchange({ method: 'DELETE', path, headers: { host: String(req.headers.host) } });
  if (removed.status >= 300) return replyWith(res, removed); // NoSuchBucket, as S3 answers it
  const copy = await objects
    .register(bucket, key, source.file, {
      contentType: replace
        ? String(req.headers['content-type'] ?? 'binary/octet-stream')
        : source.contentType,
      metadata: replace ? metadataOf(req) : source.metadata,
    })
    .catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  if (!copy) return noSuchSource(res, source);
  copyResult(res, 'CopyObjectResult', copy.etag, copy.lastModified);
}

async function copyPart(
  req: IncomingMessage,
  res: ServerResponse,
  source: DiskObject,
  exchange: Exchange,
): Promise<void> {
  const range = copyRangeOf(req.headers['x-amz-copy-source-range'], source.size);
  if (typeof range === 'string') return s3Error(res, false, 400, 'InvalidArgument', range);
  const handle = await open(source.file, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  if (!handle) return noSuchSource(res, source);
  const length = range.end - range.start + 1;
  const body =
    length === 0 ? Buffer.alloc(0) : handle.createReadStream({ start: range.start, end: range.end });
  const headers = {
    host: String(req.headers.host),
    'content-type': 'application/octet-stream',
    'content-length': String(length),
  };
  const answer = await exchange({ method: 'PUT', path: req.url ?? '/', headers, body }).finally(() =>
    handle.close().catch(() => {}),
  );
  if (answer.status !== 200) return replyWith(res, answer);
  copyResult(res, 'CopyPartResult', String(answer.headers.etag), new Date());
}

/** The bytes x-amz-copy-source-range names (`bytes=first-last`, inside the object), the whole object without
 * one, or why it cannot be copied. */
function copyRangeOf(
  header: string | string[] | undefined,
  size: number,
): { start: number; end: number } | string {
  if (header === undefined) return { start: 0, end: size - 1 };
  const match = /^bytes=(\d+)-(\d+)$/.exec(String(header).trim());
  if (!match) return `The x-amz-copy-source-range value must be of the form bytes=first-last, not ${header}`;
  const [start, end] = [Number(match[1]), Number(match[2])];
  if (start > end || end >= size) return `Range specified is not valid for source object of size: ${size}`;
  return { start, end };
}

const metadataOf = (req: IncomingMessage): Record<string, string> =>
  Object.fromEntries(
    Object.entries(req.headers).flatMap(([name, value]) =>
      name.startsWith('x-amz-meta-') && value !== undefined ? [[name.slice(11), String(value)]] : [],
    ),
  );

const noSuchSource = (res: ServerResponse, source: DiskObject) =>
  s3Error(res, false, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: source.key });

function copyResult(res: ServerResponse, element: string, etag: string, lastModified: Date): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<${element} xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LastModified>${lastModified.toISOString()}</LastModified><ETag>${escapeXml(etag)}</ETag></${element}>`;
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
