// The run a first S3 segment's request began, pinned to the version of the file it read (functions/run-origin.ts,
// lib/aws/run-origins.ts), on the real job table: the first attempt's origin is kept; a retry that read the same
// run and version passes; one that read another version or other ids fails with both named, and the origin stays
// the first. As a property over attempts, and the guess of a run whose file is gone.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guessedIds, noteOrigin, OriginChangedError } from '../../functions/run-origin.js';
import { RunOrigins } from '../../lib/aws/run-origins.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { freshJobTable } from '../local/fixtures/aws.js';

let client: DynamoDBClient;
let origins: RunOrigins;

beforeAll(async () => {
  const fresh = await freshJobTable('origins');
  client = fresh.client;
  origins = new RunOrigins(client, { tableName: fresh.tableName });
});
afterAll(() => client?.destroy());

const location = { bucket: 'b', key: 'manifests/nightly.ndjson' };
const newRequest = () => `req-${randomBytes(6).toString('hex')}`;

describe('a run’s origin', () => {
  it('refuses a missing table name, naming the option', () => {
    expect(() => new RunOrigins(client, { tableName: '' })).toThrow(InvalidArgumentError);
    expect(() => new RunOrigins(client, { tableName: '' })).toThrow(/tableName/);
  });

  it('is guessed from the event’s fields, else the key and the request id', () => {
    expect(guessedIds(location, {}, 'req/1')).toEqual({ jobId: 'nightly', runId: 'req-1' });
    expect(guessedIds(location, { jobId: 'j', runId: 'r' }, 'req')).toEqual({ jobId: 'j', runId: 'r' });
  });

  it('a retry that read the file rewritten since fails, naming both, and the first attempt’s origin stays', async () => {
    const requestId = newRequest();
    const first = { jobId: 'nightly', runId: 'n7', etag: '"a"' };
    await noteOrigin(origins, requestId, first);
    await noteOrigin(origins, requestId, first); // a retry of the same file: passes
    const rewritten = { jobId: 'nightly', runId: 'n8', etag: '"b"' };
    const error = await noteOrigin(origins, requestId, rewritten).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OriginChangedError);
    expect((error as Error).message).toMatch(
      /^manifest: changed since request req-\w+ began run nightly\/n7 \(ETag "a", now "b", naming run nightly\/n8\)/,
    );
    expect(await origins.of(requestId)).toEqual(first);
  });

  it('over any attempts, the first attempt’s origin is kept, and an attempt passes exactly when it read the same', async () => {
    const attempt = fc.record({
      jobId: fc.constantFrom('nightly', 'other'),
      runId: fc.constantFrom('n7', 'n8'),
      etag: fc.constantFrom('"a"', '"b"', ''),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(attempt, { minLength: 1, maxLength: 5 }), async (attempts) => {
        const requestId = newRequest();
        for (const a of attempts) {
          const passed = await noteOrigin(origins, requestId, a).then(
            () => true,
            (e: unknown) => {
              expect(e).toBeInstanceOf(OriginChangedError);
              return false;
            },
          );
          expect(passed).toBe(JSON.stringify(a) === JSON.stringify(attempts[0]));
          expect(await origins.of(requestId)).toEqual(attempts[0]);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('when the noted run never began, any attempt passes and the origin is the last attempt’s', async () => {
    const attempt = fc.record({
      jobId: fc.constantFrom('nightly', 'other'),
      runId: fc.constantFrom('n7', 'n8'),
      etag: fc.constantFrom('"a"', '"b"', ''),
    });
    const never = async () => false;
    await fc.assert(
      fc.asyncProperty(fc.array(attempt, { minLength: 1, maxLength: 5 }), async (attempts) => {
        const requestId = newRequest();
        for (const a of attempts) {
          await noteOrigin(origins, requestId, a, never);
          expect(await origins.of(requestId)).toEqual(a);
        }
      }),
      { numRuns: 50 },
    );
  });
});
