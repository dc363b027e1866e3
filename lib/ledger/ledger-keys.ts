// The job table's layout (keys from lib/config.ts jobTableAttributes: pk, sk, TTL expiresAt). Pure: the
// DynamoDB store (lib/aws/job-ledger-table.ts) builds every key here, so the layout is read in one place.
//
//   run record     pk `job#<jobId>`           sk `run#<runId>`    counts, status, limits, version
//   latest pointer pk `job#<jobId>`           sk `latest`         runId of the job's newest started run
//   settle marker  pk `run#<jobId>#<runId>`   sk `settle#<key>`   one per settled unit of work, with a TTL
//   segment beat   pk `run#<jobId>#<runId>`   sk `beat#<segment>`  when a running segment last said it was
//                                                                  alive (lib/aws/segment-beats.ts), with a TTL
//   move marker    pk `run#<jobId>#<runId>`   sk `settle##moved:<task id>`   a redriven task that left
//                                                                  `deadLettered` (functions/worker-hand-on.ts),
//                                                                  state `{ movedAs }`: where it went
//   run origin     pk `request#<requestId>`   sk `origin`         the run an orchestrator request began from
//                                                                  an S3 manifest, and its ETag
//                                                                  (lib/aws/run-origins.ts), with a TTL
//
// Why this split: a job's partition holds only its runs and the pointer, so `runs --job` is one small Query
// however many messages the runs settled; the markers (one per SQS message, segment or invoke chunk) sit on
// a partition of their own per run, which DynamoDB spreads as it grows. The one hot item is the run record:
// every settle adds to it. DynamoDB takes about 1,000 WCU/s on one item and a transactional write costs
// double (2 WCU per KB), so one run settles at most about 500 messages/s; that is why a settle is one write
// per message (packed tasks), never one per task.
//
// Job and run ids are `[A-Za-z0-9._-]` (lib/manifest/schema.ts JobIdSchema): no `#`, so `run#<jobId>#<runId>`
// names one run only, and a move's key (`#moved...`) is never a unit of work's (each starts with a job id or
// `segment:`).

import { createHash } from 'node:crypto';
import { DEAD_LETTER_RETENTION_SECONDS } from '../config.js';

export const LATEST_SORT_KEY = 'latest';
export const RUN_SORT_PREFIX = 'run#';
export const SETTLE_SORT_PREFIX = 'settle#';
export const MOVE_KEY_PREFIX = '#moved';

export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** The partition of a job: its run records and its latest-run pointer. */
export function jobPartition(jobId: string): string {
  return `job#${jobId}`;
}

export function runKey(jobId: string, runId: string): TableKey {
  return { pk: jobPartition(jobId), sk: `${RUN_SORT_PREFIX}${runId}` };
}

export function latestKey(jobId: string): TableKey {
  return { pk: jobPartition(jobId), sk: LATEST_SORT_KEY };
}

/** The partition of a run's own items: its settle markers and its segments' heartbeats. */
function runPartition(jobId: string, runId: string): string {
  return `run#${jobId}#${runId}`;
}

export function settleKey(jobId: string, runId: string, key: string): TableKey {
  return { pk: runPartition(jobId, runId), sk: `${SETTLE_SORT_PREFIX}${key}` };
}

/** A running orchestrator segment's heartbeat (lib/aws/segment-beats.ts). */
export function beatKey(jobId: string, runId: string, segment: number): TableKey {
  return { pk: runPartition(jobId, runId), sk: `beat#${segment}` };
}

/** The run an orchestrator request began (lib/aws/run-origins.ts): a partition of its own per request. */
export function originKey(requestId: string): TableKey {
  return { pk: `request#${requestId}`, sk: 'origin' };
}

/** Seconds since the epoch at which DynamoDB's TTL may delete an item written at `nowMs`. */
export function expiresAtSeconds(nowMs: number, retentionDays: number): number {
  return Math.floor(nowMs / 1000) + retentionDays * 86_400;
}

/**
 * The settle key of a redriven task's move out of `deadLettered`: `#moved:<id>`, or for an id past 256 UTF-8
 * bytes `#moved#` and its SHA-256 (a sort key holds 1,024 bytes). The two forms cannot meet: their prefixes
 * differ after `#moved`.
 */
export function movedKey(taskId: string): string {
  if (Buffer.byteLength(taskId) <= 256) return `${MOVE_KEY_PREFIX}:${taskId}`;
  return `${MOVE_KEY_PREFIX}#${createHash('sha256').update(taskId).digest('base64url')}`;
}

/** An orchestrator segment's settle key starts so (lib/fanout/segment-copy.ts segmentSettleKey). */
const SEGMENT_KEY_PREFIX = 'segment:';

const MOVED_AS = ['succeeded', 'cancelled', 'undeliverable'] as const;

/** Where a redriven task went when it left `deadLettered`. */
export type MovedAs = (typeof MOVED_AS)[number];

/** The state a move's marker keeps: where the task went, for the report (an undeliverable one still failed). */
export function movedState(as: MovedAs): { readonly movedAs: MovedAs } {
  return { movedAs: as };
}

/**
 * Where a move's marker says its task went; `unknown` for a marker that keeps no such state (one written
 * before markers kept it).
 */
export function movedAsOf(state: unknown): MovedAs | 'unknown' {
  const as = (state as { movedAs?: unknown } | null | undefined)?.movedAs;
  return typeof as === 'string' && (MOVED_AS as readonly string[]).includes(as) ? (as as MovedAs) : 'unknown';
}

/**
 * How many days a settle key's marker is kept. A move's and a segment's outlive the dead letters they guard,
 * which may be redriven up to DEAD_LETTER_RETENTION_SECONDS after their send: a copy of a dead letter still in
 * the DLQ when its task moved; a segment copy's dead letter, sent before the segment's settle, which the worker
 * judges by the segment's marker (functions/segment-copies.ts: without it, one is sent back at every redrive).
 */
export function markerRetentionDays(key: string, retentionDays: number): number {
  if (!key.startsWith(MOVE_KEY_PREFIX) && !key.startsWith(SEGMENT_KEY_PREFIX)) return retentionDays;
  return retentionDays + Math.ceil(DEAD_LETTER_RETENTION_SECONDS / 86_400);
}
