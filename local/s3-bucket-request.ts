// What a path-style S3 request to a bucket (`/bucket` or `/bucket/`, with a query) does that the disk-held objects
// (disk-objects.ts) take part in: lists its keys (ListObjects, ListObjectsV2) or deletes a batch of them
// (DeleteObjects, POST ?delete) or deletes it (DeleteBucket, which a disk-held key makes not empty). Any other
// bucket call (a sub-resource such as ?uploads or ?versions, CreateBucket) is the emulator's alone.
export const BucketActions = {
  LIST: 'list',
  DELETE_OBJECTS: 'delete-objects',
  DELETE_BUCKET: 'delete-bucket',
} as const;
export type BucketAction = (typeof BucketActions)[keyof typeof BucketActions];

export interface S3BucketRequest {
  readonly bucket: string;
  readonly action: BucketAction;
  readonly params: URLSearchParams;
}

/** The parameters of ListObjects and ListObjectsV2; `x-id` is the SDK's name of its operation. */
const LIST_PARAMS = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'marker',
  'start-after',
  'continuation-token',
  'encoding-type',
  'fetch-owner',
  'x-id',
]);

/** The bucket call a request makes, or undefined for an object's path or a call of another kind. */
export function s3BucketRequest(method: string | undefined, url = '/'): S3BucketRequest | undefined {
  const q = url.indexOf('?');
  const match = /^\/([^/]+)\/?$/.exec(q < 0 ? url : url.slice(0, q));
  if (!match) return undefined;
  let bucket: string;
  try {
    bucket = decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
  const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const names = [...params.keys()];
  if (method === 'GET' && names.every((name) => LIST_PARAMS.has(name))) {
    return { bucket, action: BucketActions.LIST, params };
  }
  if (method === 'POST' && params.has('delete'))
    return { bucket, action: BucketActions.DELETE_OBJECTS, params };
  if (method === 'DELETE' && names.every((name) => name === 'x-id')) {
    return { bucket, action: BucketActions.DELETE_BUCKET, params };
  }
  return undefined;
}
