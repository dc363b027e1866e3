// The tasks of a manifest that a stopped run never read. When a run stops, the local runtime keeps the
// orchestrator's continuation instead of running it (local/invoke-server.ts holdAsync); its cursor says where
// reading would have gone on. The manifest is read again from there, as the continuation itself would have,
// so the report can list those tasks (valid ones to run again, invalid ones as invalid).
import { S3Client } from '@aws-sdk/client-s3';
import { openS3Manifest } from '../lib/aws/s3-manifest.js';
import { type Continuation, classifyEvent } from '../lib/fanout/continuation.js';
import { handledBefore } from '../lib/fanout/reread.js';
import { type Manifest, parseInlineManifest, parseManifestStream } from '../lib/manifest/parse.js';
import type { JobTask } from '../lib/manifest/schema.js';
import type { BackendInfo } from './backend.js';
import { localCredentials } from './resources.js';

export interface ManifestTail {
  /** Where reading stopped, and the orchestrator's counts up to there. */
  readonly continuation: Continuation;
  readonly valid: ReadonlyArray<{ readonly task: JobTask; readonly line?: number }>;
  readonly invalid: ReadonlyArray<{ readonly id?: string; readonly line?: number; readonly error: string }>;
}

/** The continuation a held event carries, or undefined when it is not one. */
export function heldContinuation(payload: unknown): Continuation | undefined {
  try {
    const event = classifyEvent(payload);
    return event.kind === 'continuation' ? event.continuation : undefined;
  } catch {
    return undefined;
  }
}

export async function readManifestTail(
  backend: BackendInfo,
  continuation: Continuation,
): Promise<ManifestTail> {
  const s3 = new S3Client({
    endpoint: backend.endpoints.s3,
    region: backend.region,
    credentials: localCredentials,
    forcePathStyle: true,
  });
  try {
    const manifest = await reopen(s3, continuation);
    const valid: { task: JobTask; line?: number }[] = [];
    const invalid: { id?: string; line?: number; error: string }[] = [];
    for await (const item of manifest.items) {
      if (handledBefore(item, continuation.cursor, continuation.reread)) continue;
      if (item.ok) valid.push({ task: item.task, ...(item.line === undefined ? {} : { line: item.line }) });
      else
        invalid.push({
          ...(item.id === undefined ? {} : { id: item.id }),
          ...(item.line === undefined ? {} : { line: item.line }),
          error: item.error,
        });
    }
    return { continuation, valid, invalid };
  } finally {
    s3.destroy();
  }
}

/** The manifest as the continuation would have opened it (functions/open-job.ts reopen). */
async function reopen(s3: S3Client, c: Continuation): Promise<Manifest> {
  const { source } = c;
  if (source.kind === 'inline') return parseInlineManifest({ ...source.job, jobId: c.jobId, runId: c.runId });
  const object = await openS3Manifest(s3, source, source.etag);
  return parseManifestStream(object.chunks, { format: source.format, overrides: source.overrides });
}
