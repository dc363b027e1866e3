// The run a first S3 segment's request began, pinned to the version of the file it read (lib/aws/run-origins.ts).
// The orchestrator notes it before starting the run, on every attempt; an attempt that finds the request began
// another run or read another version fails (OriginChangedError), since the file was rewritten at its key between
// Lambda's attempts: running it would start another run, or give this one other tasks, and leave the run the
// request began `running` for ever. Lambda then reports the request failed for good, and the report
// (functions/orchestrator-failure.ts) breaks the noted run. The report reads the origin first; a run begun
// before origins were noted is named by the file as it reads now, and when the file is gone by the event's
// fields, else the key and the request id (guessedIds), as the orchestrator names a run whose file names neither.
import type { RunIds, RunOrigin, RunOrigins } from '../lib/aws/run-origins.js';
import { jobIdFromKey, type S3Location } from '../lib/aws/s3-manifest.js';
import { runIdOf } from './open-job.js';

/** The file of a first segment's request was rewritten since an earlier attempt began its run. */
export class OriginChangedError extends Error {
  override readonly name = 'OriginChangedError';
  constructor(
    readonly requestId: string,
    readonly noted: RunOrigin,
    readonly now: RunOrigin,
  ) {
    super(
      `manifest: changed since request ${requestId} began run ${noted.jobId}/${noted.runId} ` +
        `(ETag ${noted.etag || 'none'}, now ${now.etag || 'none'}, naming run ${now.jobId}/${now.runId}): ` +
        'that run is not started again nor another one begun; Lambda reports the request failed, and the report breaks it',
    );
  }
}

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

/**
 * Notes the run a first S3 segment begins under its request id; throws OriginChangedError as above, unless the
 * noted run never began (`begun` false: the attempt that noted it died before starting it, or its start
 * failed): then no run of the request is left to stay running, and this attempt's file is the request's.
 */
export async function noteOrigin(
  origins: RunOrigins,
  requestId: string,
  origin: RunOrigin,
  begun: (run: RunIds) => Promise<boolean> = async () => true,
  now: () => number = Date.now,
): Promise<void> {
  const noted = await origins.note(requestId, origin, now());
  if (!noted) return;
  if (!(await begun(noted)) && (await origins.repin(requestId, noted, origin, now()))) return;
  throw new OriginChangedError(requestId, noted, origin);
}
