// The items of the job ledger's writes on the job table (lib/aws/job-ledger-table.ts), as pure values: a new
// run's record, the start transaction's two puts (record and latest pointer), the settle transaction's marker
// and counts, and a stored item read back as the port's RunRecord. The table sends them; this file says what
// they hold and which condition guards each.
import type { StartRunInput } from '../ledger/job-ledger.js';
import {
  expiresAtSeconds,
  latestKey,
  markerRetentionDays,
  runKey,
  settleKey,
} from '../ledger/ledger-keys.js';
import { type RunRecord, zeroCounts } from '../ledger/run-record.js';
import type { countsUpdate } from './ledger-updates.js';
import { isTallyAttribute, withAdopted } from './segment-tallies.js';
import { UNSETTLED, unreadCondition } from './unsettled.js';

/** The table's own attributes, which a RunRecord does not carry. */
const STORE_ONLY = new Set(['pk', 'sk', 'expiresAt', UNSETTLED]);

/** A run's first record: no counts yet, version 1. */
export function newRecord(input: StartRunInput, status: RunRecord['status']): RunRecord {
  return {
    jobId: input.jobId,
    runId: input.runId,
    status,
    startedAt: input.startedAt,
    manifestDone: false,
    toleratedFailurePercent: input.toleratedFailurePercent,
    version: 1,
    ...zeroCounts(),
  };
}

/**
 * A start's two puts, one transaction: the run's record (new only) and the job's latest pointer, which moves only
 * from the run this start saw as the latest (or is new), so two runs racing cannot both move it.
 */
export function startItems(
  table: string,
  input: StartRunInput,
  record: RunRecord,
  previousRunId: string | undefined,
) {
  return [
    {
      Put: {
        TableName: table,
        // `unsettled` from 0: this run's settles can tell when they did not end it (lib/aws/unsettled.ts).
        Item: { ...runKey(input.jobId, input.runId), ...record, [UNSETTLED]: 0 },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    {
      Put: {
        TableName: table,
        Item: { ...latestKey(input.jobId), runId: input.runId, startedAt: input.startedAt },
        ...(previousRunId === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: 'attribute_not_exists(pk) OR runId = :previous',
              ExpressionAttributeValues: { ':previous': previousRunId },
            }),
      },
    },
  ];
}

/** The record of a run skipped under `forbid`, ended as it is made; new only (a retried start finds it). */
export function skippedPut(table: string, input: StartRunInput, record: RunRecord, expiresAt: number) {
  return {
    TableName: table,
    Item: { ...runKey(input.jobId, input.runId), ...record, expiresAt },
    ConditionExpression: 'attribute_not_exists(pk)',
  };
}

/** A settle marker: its key, when it expires (a move's later: markerRetentionDays), and what it keeps. */
export function settleMarker(
  jobId: string,
  runId: string,
  key: string,
  state: Readonly<Record<string, unknown>> | undefined,
  nowMs: number,
  retentionDays: number,
) {
  const expiresAt = expiresAtSeconds(nowMs, markerRetentionDays(key, retentionDays));
  return { ...settleKey(jobId, runId, key), expiresAt, ...(state === undefined ? {} : { state }) };
}

export interface SettleParts {
  /** The run record's key. */
  readonly record: object;
  /**
   * The settle markers, one per settled key (a group commit settles several: lib/aws/settle-groups.ts): each
   * its key, when it expires (epoch seconds) and what it keeps.
   */
  readonly markers: readonly (object & { readonly expiresAt: number })[];
  /** The counts' update, or undefined when the delta changes nothing (the record is then only checked). */
  readonly update: ReturnType<typeof countsUpdate>;
  /**
   * Set when the settle goes unread: the `unsettled` it adds; the update's condition then also holds only if
   * the run is not complete after it (lib/aws/unsettled.ts).
   */
  readonly unreadOpen?: number;
  /** For an unread settle: the record's version the settler saw, checked too (lib/aws/unsettled.ts). */
  readonly seenVersion?: number;
}

/**
 * A settle's items, one transaction: each key's marker (once only), then the counts on an existing record
 * (last: its index is `markers.length`).
 */
export function settleItems(table: string, parts: SettleParts) {
  const markers = parts.markers.map((marker) => ({
    Put: {
      TableName: table,
      Item: marker,
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  }));
  const counts = parts.update
    ? {
        Update: {
          TableName: table,
          Key: parts.record,
          ...withCondition(parts.update, parts.unreadOpen, parts.seenVersion),
        },
      }
    : {
        ConditionCheck: { TableName: table, Key: parts.record, ConditionExpression: 'attribute_exists(pk)' },
      };
  return [...markers, counts];
}

/** The counts' update with its condition: the record is there, and for an unread settle more (unsettled.ts). */
function withCondition(
  update: NonNullable<SettleParts['update']>,
  unreadOpen: number | undefined,
  seenVersion: number | undefined,
) {
  if (unreadOpen === undefined) return { ConditionExpression: 'attribute_exists(pk)', ...update };
  const unread = unreadCondition(unreadOpen, seenVersion);
  return {
    ...update,
    ConditionExpression: unread.ConditionExpression,
    ExpressionAttributeNames: { ...update.ExpressionAttributeNames, ...unread.ExpressionAttributeNames },
    ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...unread.ExpressionAttributeValues },
  };
}

/**
 * A stored item as the port's RunRecord: the table's own attributes off, missing counts as 0, a broken run's
 * adopted tasks in `submitted` (lib/aws/segment-tallies.ts).
 */
export function toRecord(item: Record<string, unknown>): RunRecord {
  const out: Record<string, unknown> = { ...zeroCounts() };
  for (const [name, value] of Object.entries(item)) {
    if (!STORE_ONLY.has(name) && !isTallyAttribute(name)) out[name] = value;
  }
  return withAdopted(out as unknown as RunRecord, item);
}
