// The job header's own limits, read as the orchestrator reads them (functions/open-job.ts), for the report's
// limits and the live progress display's: a header may lower the deployed concurrency and set its own packing
// (functions/effective-limits.ts), and a run's report and display must show what applied. The CLI invokes the
// orchestrator with `{ manifest: s3://... }`, so the header is in the object, not in the event: it is read from
// there (the header only, then let go).
import { S3Client } from '@aws-sdk/client-s3';
import { readS3Header } from '../../lib/aws/s3-manifest.js';
import { classifyEvent } from '../../lib/fanout/continuation.js';
import { parseInlineManifest } from '../../lib/manifest/parse.js';
import type { JobHeader, JobLimits } from '../../lib/manifest/schema.js';
import { type AwsTarget, localCredentials } from '../resources.js';

/**
 * The `limits` of the job `jobEvent` started, undefined when it has none. A header that cannot be read gives
 * undefined too: the orchestrator refused such a job (the report says so), so no job limit applied.
 */
export async function jobLimitsOf(jobEvent: unknown, target: AwsTarget): Promise<JobLimits | undefined> {
  return (await jobHeaderOf(jobEvent, target))?.limits;
}

/** The header of the job `jobEvent` starts (its id, run id and limits), undefined when it cannot be read. */
export async function jobHeaderOf(jobEvent: unknown, target: AwsTarget): Promise<JobHeader | undefined> {
  try {
    const event = classifyEvent(jobEvent);
    if (event.kind === 'inline') return parseInlineManifest(event.job).header;
    if (event.kind === 's3') return await s3Header(event.uri, event.overrides, target);
  } catch {
    // A bad event or header: the job was refused, under no limits of its own.
  }
  return undefined;
}

async function s3Header(
  uri: unknown,
  overrides: Readonly<Record<string, unknown>>,
  target: AwsTarget,
): Promise<JobHeader> {
  const s3 = new S3Client({
    endpoint: target.endpoints.s3,
    region: target.region,
    credentials: localCredentials,
    forcePathStyle: true,
  });
  try {
    // The event's own fields win over the file's, as they do for the orchestrator; only the header is read.
    return await readS3Header(s3, uri, overrides);
  } finally {
    s3.destroy();
  }
}
