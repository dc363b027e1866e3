import { z } from 'zod';
import { ManifestError } from '../manifest/errors.js';
import { toManifestIssues } from '../manifest/issues.js';
import { JobIdSchema } from '../manifest/schema.js';
import type { FailureCounts } from './failure-budget.js';
import type { Reread } from './reread.js';
import { SegmentCopySchema } from './segment-copy.js';
import type { JobCounts, JobPeaks } from './summary.js';

/*
The orchestrator's three kinds of event:
- an inline manifest `{ jobId, defaults?, limits?, toleratedFailurePercent?, tasks }`;
- a pointer `{ manifest: "s3://bucket/key", jobId?, runId?, defaults?, limits?, toleratedFailurePercent? }`
  (the fields beside `manifest` override the file's header);
- a continuation `{ continuation: {...} }` that an invocation near its deadline sends to itself (Event
  invoke): where the manifest is, the cursor (index of the first task not yet read), the next message
  sequence number, and the counts, peaks and failure budget so far.
*/

export interface InlineSource {
  readonly kind: 'inline';
  /** The original inline event, tasks included. */
  readonly job: Record<string, unknown>;
}

export interface S3Source {
  readonly kind: 's3';
  readonly bucket: string;
  readonly key: string;
  /** The object's ETag at the first read: later segments read the same version. */
  readonly etag?: string;
  readonly format: 'json' | 'ndjson' | 'auto';
  /** Header fields given in the event, beside the pointer. */
  readonly overrides: Record<string, unknown>;
}

export type ManifestSource = InlineSource | S3Source;

export interface Continuation {
  readonly v: 1;
  readonly jobId: string;
  readonly runId: string;
  readonly source: ManifestSource;
  /** Index of the first task the next segment reads. */
  readonly cursor: number;
  /** The tasks the previous segment handed back at its stop (lib/fanout/reread.ts). */
  readonly reread?: Reread;
  readonly nextMessageSeq: number;
  /** Number of the next segment (the first invocation is 0). */
  readonly segment: number;
  /** Epoch milliseconds when the job started. */
  readonly startedAt: number;
  readonly counts: JobCounts;
  readonly peaks: JobPeaks;
  readonly budget: FailureCounts;
}

const count = z.number().int().min(0);
const countsShape = {
  read: count,
  invalid: count,
  inlineSucceeded: count,
  inlineFailed: count,
  enqueued: count,
  messages: count,
  batches: count,
  invokeSucceeded: count,
  invokeFailed: count,
  invokeCalls: count,
  deadLettered: count,
  undeliverable: count,
  // Absent in continuations written before the job ledger.
  cancelled: count.default(0),
};

const RereadSchema = z
  .strictObject({ to: count, queueFrom: count, invokeFrom: count })
  .refine((r) => r.queueFrom <= r.to && r.invokeFrom <= r.to, 'with queueFrom or invokeFrom past `to`');

const ContinuationSchema = z.strictObject({
  v: z.literal(1),
  jobId: JobIdSchema,
  runId: JobIdSchema,
  source: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('inline'), job: z.record(z.string(), z.unknown()) }),
    z.strictObject({
      kind: z.literal('s3'),
      bucket: z.string().min(1),
      key: z.string().min(1),
      etag: z.string().optional(),
      format: z.enum(['json', 'ndjson', 'auto']),
      overrides: z.record(z.string(), z.unknown()),
    }),
  ]),
  cursor: count,
  reread: RereadSchema.optional(),
  nextMessageSeq: count,
  segment: count,
  startedAt: count,
  counts: z.strictObject(countsShape),
  peaks: z.strictObject({ inline: count, enqueue: count, invoke: count }),
  budget: z.strictObject({ finished: count, failed: count }),
});

/**
 * How a segment ended, stored with its `segment:<n>` settle in the job ledger: where the job goes on (no
 * `cursor`: it ended there) and its counts. Only the first settle of a segment counts, so a second copy of
 * the segment (a retried invocation) continues from this, not from where it stopped itself: the
 * continuation is the same whichever copy sends it. `copy` names the copy whose settle this was
 * (lib/fanout/segment-copy.ts): its dead letters and result part are the run's, the other copies' are not.
 */
export type SegmentEndState = Pick<
  Continuation,
  'reread' | 'nextMessageSeq' | 'startedAt' | 'counts' | 'peaks' | 'budget'
> & {
  readonly cursor?: number;
  /** Absent on an end kept before copies had ids. */
  readonly copy?: string;
  /**
   * The ETag of the S3 manifest the settling copy read: the next segment reads that version, whoever sends it
   * (a first segment's source is read again by whoever continues it, and the object may have been replaced).
   */
  readonly etag?: string;
};

const SegmentEndStateSchema = z.strictObject({
  cursor: count.optional(),
  reread: ContinuationSchema.shape.reread,
  nextMessageSeq: count,
  startedAt: count,
  counts: ContinuationSchema.shape.counts,
  peaks: ContinuationSchema.shape.peaks,
  budget: ContinuationSchema.shape.budget,
  copy: SegmentCopySchema.shape.id.optional(),
  etag: z.string().optional(),
});

/**
 * The continuation that goes on from `segment`'s settled end, which has a cursor: the next segment, reading
 * from where that end says, with its counts.
 */
export function nextContinuation(
  job: Pick<Continuation, 'jobId' | 'runId' | 'source'>,
  segment: number,
  end: SegmentEndState & { readonly cursor: number },
): Continuation {
  return {
    v: 1,
    jobId: job.jobId,
    runId: job.runId,
    source: job.source.kind === 's3' && end.etag ? { ...job.source, etag: end.etag } : job.source,
    cursor: end.cursor,
    ...(end.reread ? { reread: end.reread } : {}),
    nextMessageSeq: end.nextMessageSeq,
    segment: segment + 1,
    // The kept start: two copies of a first segment each took their own clock.
    startedAt: end.startedAt,
    counts: end.counts,
    peaks: end.peaks,
    budget: end.budget,
  };
}

/** A stored segment end as it was written, or undefined when there is none (or it is not one). */
export function parseSegmentEnd(value: unknown): SegmentEndState | undefined {
  const parsed = SegmentEndStateSchema.safeParse(value);
  return parsed.success ? (parsed.data as SegmentEndState) : undefined;
}

export type OrchestratorEvent =
  | { readonly kind: 'inline'; readonly job: Record<string, unknown> }
  | { readonly kind: 's3'; readonly uri: unknown; readonly overrides: Record<string, unknown> }
  | { readonly kind: 'continuation'; readonly continuation: Continuation };

/** Tells the three kinds apart; a malformed continuation is a ManifestError naming the field. */
export function classifyEvent(event: unknown): OrchestratorEvent {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw ManifestError.of(
      'event',
      'is not an object (an inline manifest, { manifest } or { continuation })',
    );
  }
  const record = event as Record<string, unknown>;
  if ('continuation' in record) {
    const parsed = ContinuationSchema.safeParse(record.continuation);
    if (!parsed.success) {
      throw new ManifestError(
        toManifestIssues(parsed.error.issues, record.continuation, 'continuation').map(prefixed),
      );
    }
    return { kind: 'continuation', continuation: parsed.data as Continuation };
  }
  if ('manifest' in record) {
    const { manifest, ...overrides } = record;
    return { kind: 's3', uri: manifest, overrides };
  }
  return { kind: 'inline', job: record };
}

function prefixed(issue: { path: string; message: string }) {
  return issue.path.startsWith('continuation')
    ? issue
    : { path: `continuation.${issue.path}`, message: `continuation.${issue.message}` };
}
