// The S3 calls the one local endpoint (edge.ts) answers itself, or rewrites, because they touch a disk-held object
// (disk-objects.ts) the emulator does not have: GetObject and HeadObject of it (disk-object-answer.ts), a write
// that replaces or deletes it (its If-Match / If-None-Match judged here, then passed on; once the emulator says
// it succeeded, its object is the one read), a copy from it (disk-object-copy.ts), a listing of its bucket
// (disk-listing.ts), a batch delete naming it (disk-batch-delete.ts) and a DeleteBucket of its bucket (409
// BucketNotEmpty, as S3 refuses it). Everything else goes to the emulator unchanged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deleteBatch } from './disk-batch-delete.js';
import { listingQueryOf, listingXml, mergeListing, pageOf } from './disk-listing.js';
import { answerDiskObject, s3Error } from './disk-object-answer.js';
import { copyFromDisk, copySourceOf } from './disk-object-copy.js';
import type { DiskObjects } from './disk-objects.js';
import { withoutHopByHop } from './hop-by-hop.js';
import { BucketActions, s3BucketRequest } from './s3-bucket-request.js';
import { writeConditionFailed } from './s3-conditions.js';
import { ObjectActions, type S3ObjectRequest, s3ObjectRequest } from './s3-object-request.js';
import { replyWith, type UpstreamAnswer, type UpstreamRequest } from './upstream-exchange.js';

/** How the routes reach the S3 emulator behind the edge. */
export interface S3Upstream {
  /**
   * Passes the request on as it is, streaming both ways; `onAnswer` sees the emulator's status first, and the
   * answer waits for what it returns.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    onAnswer?: (status: number) => Promise<void> | undefined,
  ): void;
  /** A request of the edge's own, its answer read whole. */
  exchange(call: UpstreamRequest): Promise<UpstreamAnswer>;
}

/** True when the request touched a disk-held object and was taken care of here. */
export function answeredOnDisk(
  req: IncomingMessage,
  res: ServerResponse,
  objects: DiskObjects,
  upstream: S3Upstream,
): boolean {
  const failed = (error: unknown) =>
    s3Error(res, req.method === 'HEAD', 500, 'InternalError', `bounded-fanout endpoint: ${String(error)}`);
  const target = s3ObjectRequest(req.method, req.url);
  if (target) return objectRoute(req, res, target, objects, upstream, failed);
  const call = s3BucketRequest(req.method, req.url);
  if (!call || objects.inBucket(call.bucket).length === 0) return false;
  if (call.action === BucketActions.DELETE_BUCKET) {
    req.resume();
    s3Error(res, false, 409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', {
      BucketName: call.bucket,
    });
    return true;
  }
  if (call.action === BucketActions.DELETE_OBJECTS) {
    deleteBatch(req, res, call.bucket, objects, upstream.exchange).catch(failed);
    return true;
  }
  if (!listingQueryOf(call.params)) return false;
  list(req, res, call.bucket, objects, upstream).catch(failed);
  return true;
}

/** A call on one object: a copy from a disk-held one, or a read or a write of one. */
function objectRoute(
  req: IncomingMessage,
  res: ServerResponse,
  target: S3ObjectRequest,
  objects: DiskObjects,
  upstream: S3Upstream,
  failed: (error: unknown) => void,
): boolean {
  const object = objects.get(target.bucket, target.key);
  if (object && target.action === ObjectActions.REPLACE) {
    // A conditional write (If-Match, If-None-Match: *) is judged on the disk-held object the emulator lacks.
    const condition = writeConditionFailed(req.headers, object);
    if (condition) {
      req.resume();
      const message = 'At least one of the pre-conditions you specified did not hold';
      s3Error(res, false, 412, 'PreconditionFailed', message, { Condition: condition });
      return true;
    }
  }
  const source = copySourceOf(req, objects);
  if (source) {
    copyFromDisk(req, res, source, target, objects, upstream.exchange).catch(failed);
    return true;
  }
  if (!object) return false;
  if (target.action === ObjectActions.READ) answerDiskObject(req, res, object).catch(failed);
  else if (target.action === ObjectActions.REPLACE) {
    upstream.forward(req, res, (status) =>
      status >= 200 && status < 300
        ? objects.unregister(target.bucket, target.key).then(() => {})
        : undefined,
    );
  } else return false;
  return true;
}

/** The emulator's listing page with the bucket's disk-held keys merged in. */
async function list(
  req: IncomingMessage,
  res: ServerResponse,
  bucket: string,
  objects: DiskObjects,
  upstream: S3Upstream,
): Promise<void> {
  req.resume();
  const answer = await upstream.exchange({
    method: 'GET',
    path: req.url ?? '/',
    headers: withoutHopByHop(req.headers),
  });
  const params = new URL(req.url ?? '/', 'http://edge').searchParams;
  const query = listingQueryOf(params);
  if (answer.status !== 200 || !query) return replyWith(res, answer); // NoSuchBucket and the like, as they came
  const page = mergeListing(query, pageOf(answer.body.toString('utf8')), objects.inBucket(bucket));
  const body = listingXml(bucket, query, page);
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
