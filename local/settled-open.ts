// Which of a killed run's open messages its job ledger had settled. The journal closes a message only once the
// worker's invocation returned (the poller's word, local/task-ledger.ts), but the worker settles it in the ledger
// before that, then sends its follow-ups: a kill in between leaves it open in the journal, settled in the ledger.
// Its tasks had ended and were counted: it was no longer in flight. Put back as it was, it ran them again (in
// `off` and `message` modes; in `task` mode a failed one) and sent its follow-ups a second time, so a retried
// task ran three or four times, and in `task` and `message` modes one copy of the retry, found in progress,
// failed and held the resume for the queue's visibility timeout (360 s). So the resume reads each open message's
// marker (one BatchGetItem per 100), and a settled message is
// - done: every follow-up its settle kept is open in the journal (it goes back itself) or settled in the
//   ledger, and its dead letters, if any, counted (`!handed`): closed in the journal, not sent again;
// - to hand on: put back as the later receive it is, so the worker sends what its settle kept and runs none of
//   its tasks (functions/worker.ts). A redrive's or a segment copy's message goes so however far it got. Its
//   kept follow-ups open in the journal and unsettled are closed, not put back (`superseded`): the later receive
//   sends each again, the same body, and a second copy would run its tasks twice in `off` mode, or be found in
//   progress beside the first and held for the visibility timeout. One that settled is the worker's to leave
//   out (its marker: functions/worker-follow-ups.ts); a closed one with no marker is one a resume superseded,
//   so "sent" is never read from the journal's closed lines. A done message of a run complete and not ended
//   goes so too: the settle that completed the run died before its end, and the later receive ends it (one read
//   of the record per run of a done message).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { handedKey } from '../functions/worker-follow-ups.js';
import { emptyPlan, parsePlan } from '../lib/fanout/follow-up-plan.js';
import { parseTaskMessage, type TaskMessage } from '../lib/fanout/messages.js';
import { followUpsOf } from '../lib/fanout/settle.js';
import { settleKey } from '../lib/ledger/ledger-keys.js';
import type { RunRecord } from '../lib/ledger/run-record.js';
import { isComplete } from '../lib/ledger/run-rules.js';
import type { OpenMessage } from './queue-journal.js';

export interface SortedOpen {
  /** Not settled: in flight or queued at the kill. Their tasks may run again. */
  readonly unsettled: readonly OpenMessage[];
  /** Settled, follow-ups and dead letters out: nothing left to do. */
  readonly done: readonly OpenMessage[];
  /** Settled, some follow-up maybe not sent: back to the worker as a later receive. */
  readonly toHandOn: readonly OpenMessage[];
  /** Among `unsettled`: follow-ups of a `toHandOn` message, which its later receive sends again. */
  readonly superseded: readonly OpenMessage[];
}

export interface LedgerReader {
  readonly db: DynamoDBClient;
  readonly jobTable: string;
  /** The run's record; undefined when it has none. */
  readonly runOf: (jobId: string, runId: string) => Promise<RunRecord | undefined>;
}

/** Sorts `open` by what the ledger says of each and of the follow-ups their settles kept. */
export async function sortOpen(reader: LedgerReader, open: readonly OpenMessage[]): Promise<SortedOpen> {
  const parsed = open.flatMap((m) => {
    const message = parseTaskMessage(m.body);
    return message.ok ? [{ m, message: message.value }] : [];
  });
  const markers = await readMarkers(
    reader,
    parsed.map(({ message }) => markerOf(message)),
  );
  const settled = parsed.flatMap(({ m, message }) => {
    const marker = markers.get(keyString(markerOf(message)));
    return marker ? [{ m, message, ...keptFollowUps(message, marker) }] : [];
  });
  if (settled.length === 0) return { unsettled: open, done: [], toHandOn: [], superseded: [] };
  const followUps = settled.flatMap((s) => s.keys.map((key) => markerOf({ ...s.message, key })));
  const handed = settled.filter((s) => s.dead).map((s) => handedMarkerOf(s.message));
  const found = await readMarkers(reader, [...followUps, ...handed]);
  const openKeys = new Set(parsed.map(({ message }) => message.key));
  const out = (s: (typeof settled)[number], key: string) =>
    openKeys.has(key) || found.has(keyString(markerOf({ ...s.message, key })));
  const isDone = (s: (typeof settled)[number]) =>
    s.plain &&
    s.keys.every((key) => out(s, key)) &&
    (!s.dead || found.has(keyString(handedMarkerOf(s.message))));
  const settledOnes = new Set(settled.map((s) => s.m));
  // A run complete but not ended: the settle that completed it died before its end, which its later receive makes.
  const unended = await unendedRuns(
    reader,
    settled.filter(isDone).map((s) => s.message),
  );
  const backToEnd = (s: (typeof settled)[number]) => unended.has(runOf(s.message));
  const toHandOn = settled.filter((s) => !isDone(s) || backToEnd(s));
  const again = new Set(toHandOn.flatMap((s) => s.keys));
  const unsettled = parsed.filter(({ m }) => !settledOnes.has(m));
  return {
    unsettled: open.filter((m) => !settledOnes.has(m)),
    done: settled.filter((s) => isDone(s) && !backToEnd(s)).map((s) => s.m),
    toHandOn: toHandOn.map((s) => s.m),
    superseded: unsettled.filter(({ message }) => again.has(message.key)).map(({ m }) => m),
  };
}

type MarkerKey = ReturnType<typeof settleKey>;

const runOf = ({ jobId, runId }: Pick<TaskMessage, 'jobId' | 'runId'>) => `${jobId}\u0000${runId}`;

/** The runs of `messages` whose every task ended and that nobody ended (isComplete), by runOf; one read a run. */
async function unendedRuns(reader: LedgerReader, messages: readonly TaskMessage[]): Promise<Set<string>> {
  const runs = new Map(messages.map((m) => [runOf(m), m]));
  const unended = new Set<string>();
  for (const [run, { jobId, runId }] of runs) {
    const record = await reader.runOf(jobId, runId);
    if (record && isComplete(record)) unended.add(run);
  }
  return unended;
}

const markerOf = ({ jobId, runId, key }: Pick<TaskMessage, 'jobId' | 'runId' | 'key'>) =>
  settleKey(jobId, runId, key);
const handedMarkerOf = (message: TaskMessage) => markerOf({ ...message, key: handedKey(message.key) });
const keyString = ({ pk, sk }: MarkerKey) => `${pk}\u0000${sk}`;

/** The keys of the messages `message`'s kept plan sends; whether it dead-letters; whether it is plain (no redrive, no copy). */
function keptFollowUps(message: TaskMessage, marker: Record<string, unknown> | undefined) {
  const plan = parsePlan(marker?.state, message) ?? emptyPlan;
  const { retries, handedOn } = followUpsOf(message, plan);
  const keys = [...retries, ...handedOn].map((f) => f.message.key);
  return { keys, dead: plan.dead.length > 0, plain: !message.redrive && message.copy === undefined };
}

/** The markers found among `keys`, by keyString, each read consistently; 100 keys a call. */
async function readMarkers(
  { db, jobTable }: LedgerReader,
  keys: readonly MarkerKey[],
): Promise<Map<string, Record<string, unknown>>> {
  const doc = DynamoDBDocumentClient.from(db);
  const unique = [...new Map(keys.map((k) => [keyString(k), k])).values()];
  const found = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < unique.length; i += 100) {
    let ask: Record<string, unknown>[] = unique.slice(i, i + 100).map((k) => ({ ...k }));
    while (ask.length > 0) {
      const out = await doc.send(
        new BatchGetCommand({ RequestItems: { [jobTable]: { Keys: ask, ConsistentRead: true } } }),
      );
      for (const item of out.Responses?.[jobTable] ?? []) found.set(keyString(item as MarkerKey), item);
      ask = out.UnprocessedKeys?.[jobTable]?.Keys ?? [];
    }
  }
  return found;
}
