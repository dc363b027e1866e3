// What the handler tests read back of a run: its record's counts, and the lines of its result object.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { RunRecord } from '../../lib/ledger/run-record.js';

/** A run record's counts, to compare whole. */
export const counts = (r: RunRecord | undefined) =>
  r && {
    submitted: r.submitted,
    succeeded: r.succeeded,
    deadLettered: r.deadLettered,
    undeliverable: r.undeliverable,
    invalid: r.invalid,
    cancelled: r.cancelled,
  };

/** The lines of the result object a finished run's record names, parsed. */
export async function resultLines(
  s3: S3Client,
  bucket: string,
  record: RunRecord,
): Promise<Record<string, unknown>[]> {
  const key = record.resultUri!.replace(`s3://${bucket}/`, '');
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body!.transformToString())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}
