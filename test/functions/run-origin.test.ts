// How a report of a failed first segment names its run with the manifest unread (functions/run-origin.ts), on the
// real job table: the orchestrator notes a run's origin only when its file named ids the report would not guess,
// and the report then finds exactly the run the orchestrator started, as a property over files' ids and events.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guessedIds, noteOrigin } from '../../functions/run-origin.js';
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
const id = fc.constantFrom('nightly', 'other', 'r-1', 'req');

describe('a run’s origin', () => {
  it('refuses a missing table name, naming the option', () => {
    expect(() => new RunOrigins(client, { tableName: '' })).toThrow(InvalidArgumentError);
    expect(() => new RunOrigins(client, { tableName: '' })).toThrow(/tableName/);
  });

  it('is guessed from the event’s fields, else the key and the request id', () => {
    expect(guessedIds(location, {}, 'req/1')).toEqual({ jobId: 'nightly', runId: 'req-1' });
    expect(guessedIds(location, { jobId: 'j', runId: 'r' }, 'req')).toEqual({ jobId: 'j', runId: 'r' });
  });

  it('is noted only when the run is not the guessed one, and the report always finds the run started', async () => {
    const overrides = fc.record({ jobId: id, runId: id }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(overrides, fc.option(id), fc.option(id), async (over, fileJob, fileRun) => {
        const requestId = `req-${randomBytes(6).toString('hex')}`;
        // The orchestrator's naming: the event's fields over the file's, else the key's job and the request's run.
        const run = { jobId: over.jobId ?? fileJob ?? 'nightly', runId: over.runId ?? fileRun ?? requestId };
        const noted = await noteOrigin(origins, { location, overrides: over }, requestId, run);
        const guessed = guessedIds(location, over, requestId);
        expect(noted).toBe(guessed.jobId !== run.jobId || guessed.runId !== run.runId);
        expect(await origins.of(requestId)).toEqual(noted ? run : undefined);
        // The report's rule (functions/orchestrator-failure.ts): the noted run, else the guessed one.
        expect((await origins.of(requestId)) ?? guessed).toEqual(run);
      }),
      { numRuns: 60 },
    );
  });
});
