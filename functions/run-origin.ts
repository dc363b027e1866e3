// How a report of a first segment that failed for good names its run (functions/orchestrator-failure.ts) without
// trusting the segment's S3 manifest as it is now: it may be gone, or name another run (rewritten at a fixed key).
// A file that named its own job or run id is told by the run the orchestrator noted under the request id before
// starting it (lib/aws/run-origins.ts), read first; else the file as it reads now (a run begun before origins were
// noted), and when it is gone the event's fields, else the key and the request id, as the orchestrator names a
// run whose file names neither. Noted only when that guess would be wrong: the write only for such files.
import type { RunIds, RunOrigins } from '../lib/aws/run-origins.js';
import { jobIdFromKey, type S3Location } from '../lib/aws/s3-manifest.js';
import { runIdOf } from './open-job.js';

/** The ids a first segment's report gives its run with the manifest unread: the event's, else the key's and the request's. */
export function guessedIds(
  location: S3Location,
  overrides: Readonly<Record<string, unknown>>,
  requestId: string,
): RunIds {
  const jobId = typeof overrides.jobId === 'string' ? overrides.jobId : jobIdFromKey(location.key);
  const runId = typeof overrides.runId === 'string' ? overrides.runId : runIdOf({ awsRequestId: requestId });
  return { jobId, runId };
}

/** Notes the run a first S3 segment begins under its request id, when its ids are not the guessed ones. */
export async function noteOrigin(
  origins: RunOrigins,
  first: { readonly location: S3Location; readonly overrides: Readonly<Record<string, unknown>> },
  requestId: string,
  run: RunIds,
  now: () => number = Date.now,
): Promise<boolean> {
  const guessed = guessedIds(first.location, first.overrides, requestId);
  if (guessed.jobId === run.jobId && guessed.runId === run.runId) return false;
  await origins.note(requestId, { jobId: run.jobId, runId: run.runId }, now());
  return true;
}
