// GetObject and HeadObject of a disk-held object (disk-objects.ts), answered as S3 answers them, with what the
// orchestrator and the AWS SDK rely on: If-Match and If-Unmodified-Since (the orchestrator's continuations read
// the same version or fail: 412 PreconditionFailed), If-None-Match and If-Modified-Since (304; s3-conditions.ts),
// the response-* overrides of a GetObject, user metadata (x-amz-meta-*, a copy's), partNumber 1 (the one part
// of an object put whole, as a range), one byte range (byte-range.ts: 206 with Content-Range, or
// 416 InvalidRange), ETag, Last-Modified, Content-Length, Content-Type, Accept-Ranges, and S3's XML error bodies
// (none to a HEAD, as S3 sends none). The bytes stream from the file, 64 KiB at a time, at the client's pace.
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { type ByteRange, byteRangeOf } from './byte-range.js';
import type { DiskObject } from './disk-objects.js';
import { escapeXml } from './escape-xml.js';
import { ConditionOutcomes, conditionOutcome } from './s3-conditions.js';
import { RESPONSE_OVERRIDES } from './s3-object-request.js';

export async function answerDiskObject(
  req: IncomingMessage,
  res: ServerResponse,
  object: DiskObject,
): Promise<void> {
  req.resume(); // a GET has no body; whatever came is dropped
  const head = req.method === 'HEAD';
  if (answeredByConditions(req, res, object)) return;
  const range = rangeOf(req, res, object);
  if (range === undefined) return;
  if (range.kind === 'unsatisfiable') {
    const fields = { RangeRequested: String(req.headers.range), ActualObjectSize: String(object.size) };
    const headers = { 'content-range': `bytes */${object.size}` };
    return s3Error(res, head, 416, 'InvalidRange', 'The requested range is not satisfiable', fields, headers);
  }
  const [start, end] = range.kind === 'range' ? [range.start, range.end] : [0, object.size - 1];
  // Opened before anything is sent: a copy removed since the lookup (the key was just replaced) is NoSuchKey.
  const handle = await open(object.file, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  if (!handle) {
    return s3Error(res, head, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: object.key });
  }
  res.writeHead(range.kind === 'range' ? 206 : 200, {
    ...validatorsOf(object),
    'content-type': object.contentType,
    'content-length': end - start + 1,
    'accept-ranges': 'bytes',
    ...metadataHeadersOf(object),
    ...overridesOf(req.url),
    ...(range.kind === 'range' ? { 'content-range': `bytes ${start}-${end}/${object.size}` } : {}),
  });
  if (head || end < start) {
    await handle.close();
    return void res.end();
  }
  await pipeline(handle.createReadStream({ start, end, highWaterMark: 64 * 1024 }), res).catch(() => {
    // The client went away or the read failed mid-body: pipeline has destroyed both ends, the socket says so.
  });
}

const metadataHeadersOf = (object: DiskObject) =>
  Object.fromEntries(Object.entries(object.metadata).map(([name, value]) => [`x-amz-meta-${name}`, value]));

const validatorsOf = (object: DiskObject) => ({
  etag: object.etag,
  'last-modified': object.lastModified.toUTCString(),
});

/** The conditions (s3-conditions.ts): 412 PreconditionFailed or 304 Not Modified; true when one answered. */
function answeredByConditions(req: IncomingMessage, res: ServerResponse, object: DiskObject): boolean {
  const { outcome, condition } = conditionOutcome(req.headers, object);
  if (outcome === ConditionOutcomes.PROCEED) return false;
  if (outcome === ConditionOutcomes.NOT_MODIFIED) {
    res.writeHead(304, validatorsOf(object));
    res.end();
    return true;
  }
  const message = 'At least one of the pre-conditions you specified did not hold';
  s3Error(res, req.method === 'HEAD', 412, 'PreconditionFailed', message, { Condition: String(condition) });
  return true;
}

/**
 * The bytes asked: a Range header, or a partNumber. An object put whole has one part, all of it, which S3
 * answers as a range (206). Undefined when an error was answered: both asked, or a part past the first.
 */
function rangeOf(req: IncomingMessage, res: ServerResponse, object: DiskObject): ByteRange | undefined {
  const part = paramsOf(req.url).get('partNumber');
  if (part === null) return byteRangeOf(req.headers.range, object.size);
  const head = req.method === 'HEAD';
  if (req.headers.range !== undefined) {
    const message = 'Cannot specify both Range header and partNumber query parameter';
    return void s3Error(res, head, 400, 'InvalidRequest', message);
  }
  const n = Number(part);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    const message = 'Part number must be an integer between 1 and 10000, inclusive';
    return void s3Error(res, head, 400, 'InvalidArgument', message, {
      ArgumentName: 'partNumber',
      ArgumentValue: part,
    });
  }
  if (n > 1) {
    const fields = { PartNumberRequested: part, ActualPartCount: '1' };
    return void s3Error(
      res,
      head,
      416,
      'InvalidPartNumber',
      'The requested partnumber is not satisfiable',
      fields,
    );
  }
  return object.size === 0 ? { kind: 'whole' } : { kind: 'range', start: 0, end: object.size - 1 };
}

const paramsOf = (url = '/') => new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');

/** The headers a GetObject's response-* parameters override (S3 answers them in place of the stored ones). */
function overridesOf(url = '/'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of paramsOf(url)) {
    if (RESPONSE_OVERRIDES.has(name)) out[name.slice('response-'.length)] = value;
  }
  return out;
}

/** An S3 error: its XML body, or no body to a HEAD (S3 sends none; the SDK then goes by the status). */
export function s3Error(
  res: ServerResponse,
  head: boolean,
  status: number,
  code: string,
  message: string,
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return void res.destroy();
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const extra = Object.entries(fields).map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`);
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${extra.join('')}<RequestId>${requestId}</RequestId></Error>`;
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/xml',
    'x-amz-request-id': requestId,
    ...(head ? {} : { 'content-length': Buffer.byteLength(body) }),
  });
  res.end(head ? undefined : body);
}
