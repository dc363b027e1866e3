// The invalid tasks of a finished run, read back from its result object in the bucket (the orchestrator
// writes one `invalid` line per task it refused).
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { MAX_LISTED } from './dead-letters.js';
import type { InvalidTaskEntry, ReportInputs } from './local-job-report.js';
import { localCredentials } from './resources.js';

/** The result object's key: the ledger's URI (whoever ended the run wrote it), or the orchestrator's. */
export function resultKeyOf(inputs: ReportInputs, final: { resultKey?: string }): { resultKey?: string } {
  const uri = inputs.run?.resultUri;
  const prefix = `s3://${inputs.resources.bucket}/`;
  return uri?.startsWith(prefix) ? { resultKey: uri.slice(prefix.length) } : final;
}

/**
 * The invalid tasks the orchestrator wrote to the result object (the first MAX_LISTED). None when there is no
 * such object: the invocation that ended the run can die between its settle and the object's write (a
 * worker killed at its timeout), and then only the job's next run writes it (docs/ledger.md); the run's
 * counts, the invalid one included, are the ledger's all the same.
 */
export async function readInvalidTasks(
  inputs: Pick<ReportInputs, 'backend' | 'resources'>,
  final: { resultKey?: string },
): Promise<InvalidTaskEntry[]> {
  if (!final.resultKey) return [];
  const { endpoints, region } = inputs.backend;
  const s3 = new S3Client({
    endpoint: endpoints.s3,
    region,
    credentials: localCredentials,
    forcePathStyle: true,
  });
  const found: InvalidTaskEntry[] = [];
  let body: Readable | undefined;
  try {
    const out = await s3.send(
      new GetObjectCommand({ Bucket: inputs.resources.bucket, Key: final.resultKey }),
    );
    body = out.Body as Readable;
    const lines = createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (!line.includes('"invalid"')) continue;
      const record = JSON.parse(line) as { type?: string } & InvalidTaskEntry;
      if (record.type !== 'invalid') continue;
      const { id, index, line: at, error } = record;
      found.push({
        ...(id ? { id } : {}),
        ...(index !== undefined ? { index } : {}),
        ...(at ? { line: at } : {}),
        error,
      });
      if (found.length >= MAX_LISTED) break;
    }
  } catch (error) {
    if (!(error instanceof NoSuchKey)) throw error;
  } finally {
    // Left part-read (MAX_LISTED reached): the body is let go before the client, whose destroy aborts its
    // socket; an error that abort raises on a stream no reader listens to any more would end the process.
    body?.on('error', () => {});
    body?.destroy();
    s3.destroy();
  }
  return found;
}
