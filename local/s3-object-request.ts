// What a path-style S3 request (`/bucket/key?query`, as the SDK sends it to the one local endpoint: forcePathStyle
// or an IP endpoint) does to one object: reads it (GetObject, HeadObject), replaces or removes it (PutObject,
// CopyObject, CompleteMultipartUpload, DeleteObject), or something else (a sub-resource such as ?tagging, a
// part of an upload not yet complete). The edge answers reads of disk-held objects itself (disk-objects.ts) and
// lets a replacement through to the emulator, after which the emulator's object is the one read.
export const ObjectActions = { READ: 'read', REPLACE: 'replace', OTHER: 'other' } as const;
export type ObjectAction = (typeof ObjectActions)[keyof typeof ObjectActions];

export interface S3ObjectRequest {
  readonly bucket: string;
  readonly key: string;
  readonly action: ObjectAction;
}

/** A GetObject's parameters that override a header of its answer (response-content-type and the like). */
export const RESPONSE_OVERRIDES = new Set(
  [
    'cache-control',
    'content-disposition',
    'content-encoding',
    'content-language',
    'content-type',
    'expires',
  ].map((header) => `response-${header}`),
);

/** The SDK names its operation in `x-id`; any other parameter is a sub-resource or an upload's part. */
const PLAIN = new Set(['x-id']);

/** The object a request names and what it does to it, or undefined for a bucket-level or malformed path. */
export function s3ObjectRequest(method: string | undefined, url = '/'): S3ObjectRequest | undefined {
  const q = url.indexOf('?');
  const match = /^\/([^/]+)\/(.+)$/.exec(q < 0 ? url : url.slice(0, q));
  if (!match) return undefined;
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(match[1]);
    key = decodeURIComponent(match[2]);
  } catch {
    return undefined; // a malformed escape: the emulator answers it
  }
  const names = [...new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).keys()];
  return { bucket, key, action: actionOf(method ?? 'GET', names) };
}

function actionOf(method: string, names: readonly string[]): ObjectAction {
  const plain = names.every((name) => PLAIN.has(name));
  const read = names.every(
    (name) => PLAIN.has(name) || RESPONSE_OVERRIDES.has(name) || name === 'partNumber',
  );
  if ((method === 'GET' || method === 'HEAD') && read) return ObjectActions.READ;
  // PutObject and CopyObject; DeleteObject (an AbortMultipartUpload names its uploadId and leaves the object).
  if ((method === 'PUT' || method === 'DELETE') && plain) return ObjectActions.REPLACE;
  // CompleteMultipartUpload: the object is replaced when the upload completes, not at its first part.
  if (method === 'POST' && names.includes('uploadId')) return ObjectActions.REPLACE;
  return ObjectActions.OTHER;
}
