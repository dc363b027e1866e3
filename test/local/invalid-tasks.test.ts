// The report's invalid tasks, read back from a run's result object in the backend's real S3: the invalid
// lines listed, and none (not an error) when the object was never written, as when the invocation that
// ended the run died before writing it.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInvalidTasks } from '../../local/invalid-tasks.js';
import { type LocalResources, localCredentials } from '../../local/resources.js';
import { backend, freshResources } from './fixtures/aws.js';

let resources: LocalResources;
let s3: S3Client;

beforeAll(async () => {
  const fresh = await freshResources('invalid');
  fresh.sqs.destroy();
  resources = fresh.resources;
  const { endpoints, region } = backend();
  s3 = new S3Client({ endpoint: endpoints.s3, region, credentials: localCredentials, forcePathStyle: true });
});

afterAll(() => s3?.destroy());

describe('readInvalidTasks', () => {
  it("lists the result object's invalid lines", async () => {
    const lines = [
      { type: 'invalid', index: 2, line: 4, id: 'a', error: 'url: expected a URL' },
      { type: 'dead-letter', id: 'b', error: 'invalid' },
      { type: 'invalid', index: 5, line: 7, error: 'id: missing' },
    ];
    const Key = 'results/job/run-written.ndjson';
    await s3.send(
      new PutObjectCommand({
        Bucket: resources.bucket,
        Key,
        Body: lines.map((l) => JSON.stringify(l)).join('\n'),
      }),
    );
    expect(await readInvalidTasks({ backend: backend(), resources }, { resultKey: Key })).toEqual([
      { index: 2, line: 4, id: 'a', error: 'url: expected a URL' },
      { index: 5, line: 7, error: 'id: missing' },
    ]);
  });

  it('lists none when the result object was never written', async () => {
    const resultKey = 'results/job/run-whose-writer-died.ndjson';
    expect(await readInvalidTasks({ backend: backend(), resources }, { resultKey })).toEqual([]);
  });

  it('still fails on any other error (here, a bucket that does not exist)', async () => {
    const elsewhere = { ...resources, bucket: `${resources.bucket}-gone` };
    await expect(
      readInvalidTasks({ backend: backend(), resources: elsewhere }, { resultKey: 'results/x.ndjson' }),
    ).rejects.toThrow(/bucket/i);
  });
});
