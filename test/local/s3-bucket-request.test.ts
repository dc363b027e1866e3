// Which bucket calls the disk-held objects take part in (local/s3-bucket-request.ts): the listings, the batch
// delete, DeleteBucket, and nothing else (a sub-resource, an object's path, another method).
import { describe, expect, it } from 'vitest';
import { BucketActions, s3BucketRequest } from '../../local/s3-bucket-request.js';

describe('s3BucketRequest', () => {
  it.each([
    ['GET', '/b', BucketActions.LIST],
    ['GET', '/b/?list-type=2&prefix=m%2F&delimiter=%2F&max-keys=2&x-id=ListObjectsV2', BucketActions.LIST],
    ['GET', '/b?marker=a&encoding-type=url', BucketActions.LIST],
    ['POST', '/b?delete', BucketActions.DELETE_OBJECTS],
    ['POST', '/b/?delete=&x-id=DeleteObjects', BucketActions.DELETE_OBJECTS],
    ['DELETE', '/b', BucketActions.DELETE_BUCKET],
    ['DELETE', '/b/?x-id=DeleteBucket', BucketActions.DELETE_BUCKET],
  ])('%s %s: %s', (method, url, action) => {
    expect(s3BucketRequest(method, url)?.action).toBe(action);
  });

  it.each([
    ['GET', '/b?uploads'],
    ['GET', '/b?versions'],
    ['GET', '/b/key'],
    ['PUT', '/b'],
    ['POST', '/b?uploads'],
    ['DELETE', '/b?policy'],
    ['GET', '/%E0%A4%A'],
  ])('%s %s: none', (method, url) => {
    expect(s3BucketRequest(method, url)).toBeUndefined();
  });

  it('decodes the bucket and keeps the parameters', () => {
    const call = s3BucketRequest('GET', '/my%2Dbucket?prefix=a%20b');
    expect([call?.bucket, call?.params.get('prefix')]).toEqual(['my-bucket', 'a b']);
  });
});
