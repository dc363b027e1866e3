// Opens the job an orchestrator event names: an inline manifest, an S3 object read as a stream, or the
// manifest of a continuation (re-read from the start, so duplicate ids are still caught across
// invocations; the segment skips the tasks before its cursor without running them).
import type { Context } from 'aws-lambda';
import { letGo, type OpenedS3Manifest, openS3Manifest, readS3Manifest } from '../lib/aws/s3-manifest.js';
import type { Continuation, ManifestSource, OrchestratorEvent } from '../lib/fanout/continuation.js';
import { emptyCounts, emptyPeaks } from '../lib/fanout/summary.js';
import { ManifestError } from '../lib/manifest/errors.js';
import { ManifestFormats } from '../lib/manifest/format.js';
import { type Manifest, parseInlineManifest, parseManifestStream } from '../lib/manifest/parse.js';
import type { FunctionRuntime } from './runtime.js';

/** Where a job stands between segments: the part of a continuation that moves. */
export type JobState = Pick<
  Continuation,
  'cursor' | 'reread' | 'nextMessageSeq' | 'segment' | 'startedAt' | 'counts' | 'peaks' | 'budget'
>;

export interface OpenJob {
  readonly jobId: string;
  readonly runId: string;
  readonly manifest: Manifest;
  readonly source: ManifestSource;
  readonly state: JobState;
  /**
   * An S3 manifest's body, to let go when the invocation ends (lib/aws/s3-manifest.ts letGo): a body nobody
   * reads to its end holds its socket, and a container's AWS clients share a few.
   */
  readonly body?: unknown;
}

const freshState = (): JobState => ({
  cursor: 0,
  nextMessageSeq: 0,
  segment: 0,
  startedAt: Date.now(),
  counts: emptyCounts(),
  peaks: emptyPeaks(),
  budget: { finished: 0, failed: 0 },
});

/**
 * A run id from the first invocation's request id: the same on Lambda's own retries of that event. Anything
 * a run id may not hold becomes "-", ":" too (it separates the ids in keys: lib/manifest/schema.ts JobIdSchema).
 */
export function runIdOf(context: Pick<Context, 'awsRequestId'>): string {
  const id = String(context.awsRequestId ?? '')
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return (id || `run-${Date.now()}`).slice(0, 128);
}

export async function openJob(
  event: OrchestratorEvent,
  context: Context,
  rt: FunctionRuntime,
): Promise<OpenJob> {
  if (event.kind === 'continuation') return reopen(event.continuation, rt);
  return { ...(await openFirst(event, context, rt)), state: freshState() };
}

/** A first segment's event: an inline manifest, or a pointer to one in S3. */
export type FirstEvent = Exclude<OrchestratorEvent, { readonly kind: 'continuation' }>;

/**
 * A first segment's job, named as the orchestrator names it: the header's ids, the run id the request id's when
 * the header gives none (runIdOf), and where later segments read the manifest. `body` is an S3 object's body,
 * for a caller that reads no task to let go (lib/aws/s3-manifest.ts letGo).
 */
export async function openFirst(
  event: FirstEvent,
  context: Pick<Context, 'awsRequestId'>,
  rt: FunctionRuntime,
): Promise<Omit<OpenJob, 'state'> & { readonly body?: unknown }> {
  if (event.kind === 'inline') {
    const manifest = parseInlineManifest(event.job);
    const runId = manifest.header.runId ?? runIdOf(context);
    return { jobId: manifest.header.jobId, runId, manifest, source: { kind: 'inline', job: event.job } };
  }
  const opened = await readS3Manifest(rt.aws.s3, event.uri, event.overrides);
  const { jobId } = opened.manifest.header;
  const runId = opened.manifest.header.runId ?? runIdOf(context);
  const source = s3SourceOf(opened, event.overrides, runId);
  return { jobId, runId, manifest: opened.manifest, source, body: opened.object.chunks };
}

/** Where later segments read an S3 job from: the same object version, format, job id and run id. */
export function s3SourceOf(
  { location, object, manifest }: OpenedS3Manifest,
  overrides: Readonly<Record<string, unknown>>,
  runId: string,
): ManifestSource {
  return {
    kind: 's3',
    ...location,
    ...(object.etag ? { etag: object.etag } : {}),
    format: manifest.format === 'inline' ? 'auto' : manifest.format,
    // Later segments must see the same job id and run id whatever the file says.
    overrides: { ...overrides, jobId: manifest.header.jobId, runId },
  };
}

/** A manifest whose reading fails at once with `error`, for a continuation that cannot read its source. */
function unreadableManifest(c: Continuation, error: ManifestError): Manifest {
  return {
    header: { jobId: c.jobId, runId: c.runId },
    format: ManifestFormats.JSON,
    items: {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.reject(error),
      }),
    },
  };
}

async function reopen(c: Continuation, rt: FunctionRuntime): Promise<OpenJob> {
  const { source } = c;
  let manifest: Manifest;
  let body: unknown;
  if (source.kind === 'inline')
    manifest = parseInlineManifest({ ...source.job, jobId: c.jobId, runId: c.runId });
  else {
    try {
      const object = await openS3Manifest(rt.aws.s3, source, source.etag);
      body = object.chunks;
      manifest = await parseManifestStream(object.chunks, {
        format: source.format,
        overrides: source.overrides,
      });
    } catch (error) {
      if (body !== undefined) letGo(body);
      body = undefined;
      if (!(error instanceof ManifestError)) throw error;
      // Replaced (If-Match failed), gone or no longer valid after the run began: the run fails at this
      // segment as a manifest that breaks mid-read does, its earlier segments counted. Refusing the event
      // instead would leave the run open for ever (and, with overlap forbid, every later run skipped).
      manifest = unreadableManifest(c, error);
    }
  }
  const { cursor, reread, nextMessageSeq, segment, startedAt, counts, peaks, budget } = c;
  return {
    jobId: c.jobId,
    runId: c.runId,
    manifest,
    source,
    ...(body === undefined ? {} : { body }),
    state: {
      cursor,
      ...(reread ? { reread } : {}),
      nextMessageSeq,
      segment,
      startedAt,
      counts,
      peaks,
      budget,
    },
  };
}
