// `unsettled` on a run record (the store's own attribute, not the port's RunRecord): submitted minus settled,
// kept by every settle in the same update as its counts. With it a settle's own condition can say that the
// run is not complete after it (`unsettled` not brought to 0, or the manifest not read to its end): such a
// settle, when it also adds no failure (the failure budget is judged on the record), needs no read-back. The
// settle that does complete the run fails that condition and is sent again plainly, then reads: of the writes
// to a run exactly one brings it to complete, and that one always reads (lib/aws/settle-groups.ts).
//
// A record written before `unsettled` was kept has none: its first settle starts it from UNTRACKED, far from
// 0, and no condition trusts a value that large, so such a run's settles all read back, as before.
import { COUNT_NAMES, type CountDelta } from '../ledger/run-record.js';

export const UNSETTLED = 'unsettled';
/** Where `unsettled` starts on a record that did not have it. */
export const UNTRACKED = 2 ** 50;
/** Values at or above this are not trusted (a run holds far fewer tasks than 2^49). */
const TRACKED_BELOW = 2 ** 49;

/** What a settle adds to `unsettled`: its submitted minus what it settles. */
export function unsettledDelta(delta: CountDelta | undefined): number {
  let open = 0;
  for (const name of COUNT_NAMES) {
    const value = delta?.[name] ?? 0;
    open += name === 'submitted' ? value : -value;
  }
  return open;
}

/** A settle that may go without a read-back: it does not read the manifest to its end and adds no failure. */
export function mayGoUnread(delta: CountDelta, manifestDone: boolean): boolean {
  return !manifestDone && !(delta.deadLettered ?? 0) && !(delta.undeliverable ?? 0);
}

/**
 * The counts update's condition for a settle that goes unread: the record is there, tracks `unsettled`, and
 * after this settle's `open` is added the run is not complete (the manifest not done, or `unsettled` not 0).
 * With `seenVersion`, also that the record's version (bumped by every change of status or limits, never by
 * counts) is still the one the settler saw: then its cached status and limits are current.
 */
export function unreadCondition(open: number, seenVersion?: number) {
  const condition =
    'attribute_exists(pk) AND #unsettled < :tracked AND (#manifestDone = :false OR #unsettled <> :closing)';
  const names = { '#unsettled': UNSETTLED, '#manifestDone': 'manifestDone' };
  const values = { ':tracked': TRACKED_BELOW, ':false': false, ':closing': -open };
  if (seenVersion === undefined) {
    return {
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }
  return {
    ConditionExpression: `${condition} AND #version = :seen`,
    ExpressionAttributeNames: { ...names, '#version': 'version' },
    ExpressionAttributeValues: { ...values, ':seen': seenVersion },
  };
}
