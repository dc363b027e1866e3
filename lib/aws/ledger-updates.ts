// The update and condition expressions of the job ledger's writes (lib/aws/job-ledger-table.ts), as pure
// functions: what a settle adds, what a status change sets, and the condition that lets a run end once.
// Every attribute goes through a name placeholder (`status` is a DynamoDB reserved word).
import { InvalidArgumentError } from '../errors.js';
import type { StatusChange } from '../ledger/job-ledger.js';
import {
  COUNT_NAMES,
  type CountDelta,
  type RunLimits,
  type RunRecord,
  type SegmentFailure,
} from '../ledger/run-record.js';
import type { Ending } from '../ledger/run-rules.js';
import { storedSubmitted, tallyAdds } from './segment-tallies.js';
import { UNSETTLED, UNTRACKED, unsettledDelta } from './unsettled.js';

export interface Expression {
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/**
 * A settle's update of the run record: ADD each nonzero count and segment tally (lib/aws/segment-tallies.ts),
 * SET manifestDone, a segment's failure and the store's `unsettled` (lib/aws/unsettled.ts); undefined if nothing.
 */
export function countsUpdate(
  delta: CountDelta | undefined,
  manifestDone: boolean | undefined,
  tallies?: ReadonlyMap<number, number>,
  failure?: SegmentFailure,
) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const adds: string[] = [];
  for (const [name, value] of Object.entries(delta ?? {})) {
    if (!(COUNT_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`delta.${name}`, value, `one of ${COUNT_NAMES.join(', ')}`);
    }
    // Negative only to move tasks between counts: a redrive takes them out of deadLettered.
    if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`delta.${name}`, value, 'an integer');
    if (value === 0) continue;
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    adds.push(`#${name} :${name}`);
  }
  const tally = tallyAdds(tallies);
  Object.assign(names, tally.names);
  Object.assign(values, tally.values);
  adds.push(...tally.adds);
  const sets: string[] = [];
  if (manifestDone) {
    names['#manifestDone'] = 'manifestDone';
    values[':done'] = true;
    sets.push('#manifestDone = :done');
  }
  if (failure) {
    // The first segment failure kept: a later one (another segment's) never rewrites why the run fails.
    names['#segmentFailure'] = 'segmentFailure';
    values[':failure'] = failure;
    sets.push('#segmentFailure = if_not_exists(#segmentFailure, :failure)');
  }
  const open = unsettledDelta(delta);
  if (open !== 0) {
    names['#unsettled'] = UNSETTLED;
    values[':untracked'] = UNTRACKED;
    values[':open'] = open;
    sets.push('#unsettled = if_not_exists(#unsettled, :untracked) + :open');
  }
  const parts = adds.length ? [`ADD ${adds.join(', ')}`] : [];
  if (sets.length) parts.push(`SET ${sets.join(', ')}`);
  if (parts.length === 0) return undefined;
  return {
    UpdateExpression: parts.join(' '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** A status change from one of `change.from`; reason and detail are set when given, removed when not. */
export function statusUpdate(change: StatusChange): Expression {
  if (!Array.isArray(change?.from) || change.from.length === 0) {
    throw new InvalidArgumentError('from', change?.from, 'a non-empty list of statuses');
  }
  const values: Record<string, unknown> = { ':status': change.status, ':one': 1 };
  change.from.forEach((status, i) => {
    values[`:from${i}`] = status;
  });
  const sets = ['#status = :status', '#version = #version + :one'];
  const names: Record<string, string> = { '#status': 'status', '#version': 'version' };
  // A change that gives no reason keeps the one the run has: a pause and a resume of a run whose manifest broke
  // (its reason `manifest-error`, its status still live) must not turn it into one that ends `succeeded`.
  for (const field of ['reason', 'detail'] as const) {
    if (change[field] === undefined) continue;
    sets.push(`#${field} = :${field}`);
    names[`#${field}`] = field;
    values[`:${field}`] = change[field];
  }
  const from = change.from.map((_, i) => `:from${i}`).join(', ');
  return {
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: `attribute_exists(pk) AND #status IN (${from})`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

export interface FinishWrite {
  readonly ending: Ending;
  readonly nowMs: number;
  readonly expiresAt: number;
  readonly resultUri?: string;
}

/**
 * Ends a run once: only while it is unfinished, its manifest read, and its counts still those of `record`
 * (the counts the caller judged complete: a settle landing in between makes this writer lose).
 */
export function finishUpdate(
  record: RunRecord,
  { ending, nowMs, expiresAt, resultUri }: FinishWrite,
): Expression {
  const names: Record<string, string> = {
    '#status': 'status',
    '#version': 'version',
    '#reason': 'reason',
    '#finishedAt': 'finishedAt',
    '#manifestDone': 'manifestDone',
    '#expiresAt': 'expiresAt',
  };
  const values: Record<string, unknown> = {
    ':now': nowMs,
    ':status': ending.status,
    ':expires': expiresAt,
    ':one': 1,
    ':done': true,
    ':version': record.version,
  };
  const sets = [
    '#finishedAt = :now',
    '#status = :status',
    '#expiresAt = :expires',
    '#version = #version + :one',
  ];
  if (ending.reason !== undefined) {
    sets.push('#reason = :reason');
    values[':reason'] = ending.reason;
  }
  if (resultUri !== undefined) {
    names['#resultUri'] = 'resultUri';
    sets.push('#resultUri = :uri');
    values[':uri'] = resultUri;
  }
  // As stored: a broken run's `submitted` counts its adopted tasks, which the item keeps apart.
  const stored = { ...record, submitted: storedSubmitted(record) };
  const same = COUNT_NAMES.map((name) => {
    names[`#${name}`] = name;
    values[`:${name}`] = stored[name];
    const equal = `#${name} = :${name}`;
    return stored[name] === 0 ? `(attribute_not_exists(#${name}) OR ${equal})` : equal;
  });
  return {
    UpdateExpression: `SET ${sets.join(', ')}${ending.reason === undefined ? ' REMOVE #reason' : ''}`,
    // The version too: the status judged here was read at it, and a change of status (a cancel) since wins.
    ConditionExpression: [
      'attribute_not_exists(#finishedAt)',
      '#manifestDone = :done',
      '#version = :version',
      ...same,
    ].join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/**
 * The run's limit overrides replaced, its version bumped: containers following it pick them up. Only on a run not
 * ended (an ended run's limits no longer apply), and, given `expectedVersion`, only while the record is still at
 * it: the caller merged the new overrides over those it read, and a change that landed since (another `limits`)
 * would be lost under a plain SET.
 */
export function limitsUpdate(limits: RunLimits, expectedVersion?: number): Expression {
  const versioned = expectedVersion !== undefined;
  if (versioned && !Number.isSafeInteger(expectedVersion)) {
    throw new InvalidArgumentError('expectedVersion', expectedVersion, 'an integer');
  }
  return {
    UpdateExpression: 'SET #limits = :limits, #version = #version + :one',
    ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(#finishedAt)${versioned ? ' AND #version = :seen' : ''}`,
    ExpressionAttributeNames: { '#limits': 'limits', '#version': 'version', '#finishedAt': 'finishedAt' },
    ExpressionAttributeValues: {
      ':limits': limits,
      ':one': 1,
      ...(versioned ? { ':seen': expectedVersion } : {}),
    },
  };
}

/**
 * `announcedAt` set once, on an ended run. No version bump: containers' cached control state (status, limits)
 * does not change.
 */
export function announcedUpdate(nowMs: number): Expression {
  return {
    UpdateExpression: 'SET #announcedAt = :now',
    ConditionExpression: 'attribute_exists(#finishedAt) AND attribute_not_exists(#announcedAt)',
    ExpressionAttributeNames: { '#announcedAt': 'announcedAt', '#finishedAt': 'finishedAt' },
    ExpressionAttributeValues: { ':now': nowMs },
  };
}
