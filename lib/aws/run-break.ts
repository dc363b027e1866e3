// The job ledger's write for an orchestrator segment that failed its every attempt (JobLedger.breakRun), as a
// pure transaction: the run stops reading its manifest and names the broken segment, whose tally the port's
// record then counts `submitted` (lib/aws/segment-tallies.ts).
//
// Guarded so that it is right whenever Lambda's report comes:
// - the segment must not have settled: a copy of it that did has sent, or will send, the next segment (a later
//   attempt of the same event finds the settle and continues from it), so the run is not broken there. The
//   break writes the segment's marker itself, naming no copy (NO_WINNER): a copy of the segment still running
//   (the event redriven, or a duplicate) then finds its settle a repeat and counts nothing, as its queued
//   tasks are the tally's to count; its dead letters and hand-offs are a loser's;
// - the manifest must still be being read, the run unfinished and not broken before.
// `unsettled` goes untracked (lib/aws/unsettled.ts): with adopted tasks it no longer says when the run is
// complete, so every later settle of the run reads the record back and judges it there.

import { NO_WINNER, segmentSettleKey } from '../fanout/segment-copy.js';
import type { BreakInput } from '../ledger/job-ledger.js';
import { runKey } from '../ledger/ledger-keys.js';
import { RunReasons, RunStatuses } from '../ledger/run-record.js';
import { settleMarker } from './ledger-items.js';
import { UNSETTLED, UNTRACKED } from './unsettled.js';

/** What the marker a break writes for its segment keeps: no copy's id, so no copy of the segment won. */
export const BROKEN_MARKER_STATE = { copy: NO_WINNER } as const;

/**
 * The break's transaction: the segment's settle marker (keeping BROKEN_MARKER_STATE, kept as a segment's is)
 * put where none is, and the run record's update. `live`: the run is running or paused, and
 * fails with reason `orchestrator-failed`; else it is failed or cancelled already, and keeps its status, reason
 * and detail.
 */
export function breakItems(
  table: string,
  input: BreakInput,
  live: boolean,
  nowMs: number,
  retentionDays: number,
) {
  const { jobId, runId, segment, detail } = input;
  const key = segmentSettleKey(segment);
  const marker = settleMarker(jobId, runId, key, BROKEN_MARKER_STATE, nowMs, retentionDays);
  const names: Record<string, string> = {
    '#finishedAt': 'finishedAt',
    '#manifestDone': 'manifestDone',
    '#brokenSegment': 'brokenSegment',
    '#unsettled': UNSETTLED,
    '#version': 'version',
    '#status': 'status',
  };
  const values: Record<string, unknown> = {
    ':done': true,
    ':segment': segment,
    ':untracked': UNTRACKED,
    ':one': 1,
  };
  const sets = [
    '#manifestDone = :done',
    '#brokenSegment = :segment',
    '#unsettled = :untracked',
    '#version = #version + :one',
  ];
  const from = live ? [RunStatuses.RUNNING, RunStatuses.PAUSED] : [RunStatuses.FAILED, RunStatuses.CANCELLED];
  from.forEach((status, i) => {
    values[`:from${i}`] = status;
  });
  if (live) {
    Object.assign(names, { '#reason': 'reason', '#detail': 'detail' });
    Object.assign(values, { ':failed': RunStatuses.FAILED, ':reason': RunReasons.ORCHESTRATOR_FAILED });
    values[':detail'] = detail;
    sets.push('#status = :failed', '#reason = :reason', '#detail = :detail');
  }
  return [
    { Put: { TableName: table, Item: marker, ConditionExpression: 'attribute_not_exists(pk)' } },
    {
      Update: {
        TableName: table,
        Key: runKey(jobId, runId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: [
          'attribute_exists(pk)',
          'attribute_not_exists(#finishedAt)',
          'attribute_not_exists(#brokenSegment)',
          '#manifestDone <> :done',
          `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
        ].join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    },
  ];
}
