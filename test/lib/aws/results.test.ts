// The result object keeps no secret a task carried (issue 14): ResultWriter redacts each record it is given, so
// the orchestrator's dead-letter and undeliverable lines show the task redacted. Real S3 (the test backend).
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultWriter } from '../../../lib/aws/results.js';
import { REDACTED } from '../../../lib/http/redact.js';
import { localCredentials } from '../../../local/resources.js';
import { collectUnhandled } from '../../helpers/runs.js';
import { backend, freshResources } from '../../local/fixtures/aws.js';

let s3: S3Client;
let bucket: string;

beforeAll(async () => {
  const { resources, sqs } = await freshResources('results');
  sqs.destroy();
  bucket = resources.bucket;
  const { endpoints, region } = backend();
  s3 = new S3Client({ endpoint: endpoints.s3, region, credentials: localCredentials, forcePathStyle: true });
});

afterAll(() => s3?.destroy());

describe('ResultWriter', () => {
  it('writes every record redacted: the task, and texts scrubbed of its secrets', async () => {
    const writer = new ResultWriter(s3, { bucket, jobId: 'j', runId: 'r', segment: 0 });
    const task = {
      id: 'a',
      url: 'https://me:pw-s3cret-1@h.example/x?X-Amz-Signature=sig-s3cret-2&n=1',
      method: 'POST',
      headers: { authorization: 'Bearer tok-s3cret-3', 'x-partner-secret': 'def-s3cret-4' },
      body: 'body-s3cret-5',
      mode: 'inline',
    };
    writer.add({ type: 'dead-letter', task, attempts: 1, error: 'echoes tok-s3cret-3', status: 500 });
    writer.add({ type: 'undeliverable', task, attempts: 1, error: 'x', sendError: 'body-s3cret-5 refused' });
    const key = await writer.finish({ jobId: 'j' });
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await out.Body!.transformToString();
    expect(text).not.toMatch(/s3cret/);
    const [, dead, undeliverable] = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const shown = {
      id: 'a',
      url: `https://${REDACTED}@h.example/x?X-Amz-Signature=${REDACTED}&n=1`,
      method: 'POST',
      headers: { authorization: REDACTED, 'x-partner-secret': REDACTED },
      body: REDACTED,
      mode: 'inline',
    };
    expect(dead).toEqual({
      type: 'dead-letter',
      task: shown,
      attempts: 1,
      error: `echoes ${REDACTED}`,
      status: 500,
    });
    expect(undeliverable).toMatchObject({ task: shown, sendError: `${REDACTED} refused` });
  });
});

describe('ResultWriter: a part that cannot be written', () => {
  it('fails its flush, never the process: no unhandled rejection while the segment runs on', async () => {
    // A bucket that does not exist: every PutObject of a part is refused (NoSuchBucket) by the real S3.
    const writer = new ResultWriter(s3, {
      bucket: `${bucket}-gone`,
      jobId: 'j',
      runId: 'r',
      segment: 0,
      partBytes: 10,
    });
    let flushed: unknown;
    const unhandled = await collectUnhandled(async () => {
      writer.add({ type: 'dead-letter', task: { id: 'a' }, attempts: 1, error: 'e' });
      // The part's write fails while the segment still runs its tasks, long before its flush.
      await new Promise((resolve) => setTimeout(resolve, 300));
      flushed = await writer.flush().catch((error: unknown) => error);
    });
    expect(unhandled).toEqual([]);
    expect((flushed as Error).name).toBe('NoSuchBucket');
  });
});

describe('ResultWriter: a part that cannot be read back', () => {
  it('fails finish with the read’s error, never the process, and the put does not wait on', async () => {
    const { endpoints, region } = backend();
    const failing = new S3Client({
      endpoint: endpoints.s3,
      region,
      credentials: localCredentials,
      forcePathStyle: true,
    });
    // The parts are written and listed; reading one back for the result object fails (S3 refusing, or a
    // sandbox killed at its timeout while the put streams them).
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetObjectCommand') throw new Error('injected: the part cannot be read');
        return next(args);
      },
      { step: 'initialize', name: 'partUnreadable' },
    );
    const writer = new ResultWriter(failing, {
      bucket,
      jobId: 'j',
      runId: 'unreadable',
      segment: 0,
      partBytes: 10,
    });
    writer.add({ type: 'dead-letter', task: { id: 'a' }, attempts: 1, error: 'e' });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const finished = await writer.finish({ jobId: 'j' }).catch((error: unknown) => error);
      await new Promise((resolve) => setImmediate(resolve));
      expect((finished as Error).message).toBe('injected: the part cannot be read');
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      failing.destroy();
    }
  }, 20_000);
});
