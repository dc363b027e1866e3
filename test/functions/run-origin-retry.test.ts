// Lambda's retries of a first S3 segment against the origin an earlier attempt noted (functions/run-origin.ts),
// through the real orchestrator handler, the backend's real bucket and table and a real HTTP target: a retry of
// a request whose file did not change must run, whatever the earlier attempt's code wrote.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunOrigins } from '../../lib/aws/run-origins.js';
import { expiresAtSeconds, originKey } from '../../lib/ledger/ledger-keys.js';
import { type ContinuingHandlers, startContinuingHandlers } from './continuing-handlers.js';
import { fakeContext, quietPowertools } from './harness.js';

quietPowertools();

let c: ContinuingHandlers;

beforeAll(async () => {
  c = await startContinuingHandlers('origin-retry-orchestrator', { tasksPerMessage: 5 });
});

afterAll(() => c?.destroy());

const queued = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: `${c.server.url}/${prefix}${i}`,
    mode: 'queue',
  }));

describe('a retry of a first S3 segment', () => {
  it('runs when the earlier attempt noted its origin before origins held an ETag (a deploy between attempts)', async () => {
    const key = 'manifests/origin-old.json';
    const Bucket = c.h.resources.bucket;
    const body = JSON.stringify({ jobId: 'origin-old', runId: 'night-1', tasks: queued('o', 7) });
    await c.runtime.aws.s3.send(new PutObjectCommand({ Bucket, Key: key, Body: body }));
    const requestId = 'sched-req-old-origin';
    // The origin as the code before eeabe0d wrote it for a file naming its own ids: no `etag` attribute.
    const doc = DynamoDBDocumentClient.from(c.runtime.aws.dynamodb);
    const Item = {
      ...originKey(requestId),
      jobId: 'origin-old',
      runId: 'night-1',
      expiresAt: expiresAtSeconds(Date.now(), 1),
    };
    await doc.send(new PutCommand({ TableName: c.h.resources.jobTable, Item }));
    // The file is unchanged, the ids the same: the retry runs the run its request began.
    const result = await c.orchestrator(
      { manifest: `s3://${Bucket}/${key}` },
      fakeContext(() => 60_000, requestId),
    );
    expect(result).toMatchObject({ status: 'succeeded', summary: { jobId: 'origin-old', runId: 'night-1' } });
    expect(await c.ledger.getRun('origin-old', 'night-1')).toMatchObject({ submitted: 7 });
    // Pinned now to the version the retry read.
    const origins = new RunOrigins(c.runtime.aws.dynamodb, { tableName: c.h.resources.jobTable });
    expect(await origins.of(requestId)).toMatchObject({
      jobId: 'origin-old',
      runId: 'night-1',
      etag: expect.stringMatching(/^".+"$/),
    });
  });

  it('runs the file as it reads now when the attempt that noted the origin died before its run began', async () => {
    const key = 'manifests/origin-unbegun.json';
    const Bucket = c.h.resources.bucket;
    const put = (body: unknown) =>
      c.runtime.aws.s3.send(new PutObjectCommand({ Bucket, Key: key, Body: JSON.stringify(body) }));
    const requestId = 'sched-req-unbegun';
    const { ETag } = await put({ tasks: queued('u-old', 6) });
    // What the first attempt left when it died between its note and its run's start (or its start failed):
    // the origin, pinned to the version it read, and no run.
    const origins = new RunOrigins(c.runtime.aws.dynamodb, { tableName: c.h.resources.jobTable });
    const run = { jobId: 'origin-unbegun', runId: requestId };
    expect(await origins.note(requestId, { ...run, etag: ETag ?? '' }, Date.now())).toBeUndefined();
    expect(await c.ledger.getRun(run.jobId, run.runId)).toBeUndefined();
    await put({ tasks: queued('u-new', 4) });
    // No run of this request exists to stay running: the retry runs the request's file as it reads now. Before,
    // it failed, and Lambda's report found no run to break: the request ran nothing at all.
    const result = await c.orchestrator(
      { manifest: `s3://${Bucket}/${key}` },
      fakeContext(() => 60_000, requestId),
    );
    expect(result).toMatchObject({ status: 'succeeded', summary: run });
    expect(await c.ledger.getRun(run.jobId, run.runId)).toMatchObject({ submitted: 4 });
    expect((await origins.of(requestId))?.etag).not.toBe(ETag);
  });
});
