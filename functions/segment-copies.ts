// The worker's check of a message that one copy of an orchestrator segment made on its own: a redriven dead
// letter of that copy's, or a paused chunk's hand-off (lib/fanout/invoke-chunk.ts pausedPacket). Lambda may run
// a segment twice, and only the copy whose `segment:<n>` settle counted is the run's: a loser's dead letter
// may be of a task the winner counted succeeded (run again and moved, it would count the task twice and take
// `deadLettered` below 0), and a loser's hand-off holds tasks the winner counted or handed off itself. So
// before anything else such a message is judged by the segment's marker (one read, only for these messages:
// a redrive is rare and operator-made, a hand-off comes only from a paused run; SQS's own DLQ redrive comes
// here too, so the worker is where it is caught):
// - the winner's (or a marker kept before copies had ids): it runs as any message;
// - a loser's: dropped, deleted and neither run nor counted (its tasks are the winner's to count), and
//   counted in the batch's stats as `staleCopies`;
// - no copy has settled the segment yet: it is not known whether it will count, so nothing is lost and
//   nothing counted: a dead letter goes back to the DLQ unchanged, for a later redrive; a hand-off goes back to
//   the work queue delayed pauseRecheckSeconds, unsettled, and is judged again (`unsettledCopies`), until
//   its run's record is gone (the ledger's retention): then nothing can count it, and it is dropped; or until
//   the run is broken at that segment (functions/orchestrator-failure.ts): then no copy will ever settle it, and
//   it is dropped too (each dead copy handed off its own, under its own key: run, the same task could count
//   twice). Its tasks were never counted `submitted`; the run's `detail` says where the broken segment began.
import type { Logger } from '@aws-lambda-powertools/logger';
import { sendMessageBatch } from '../lib/aws/enqueue.js';
import { EnvVars } from '../lib/config.js';
import type { TaskMessage } from '../lib/fanout/messages.js';
import { type CopyVerdict, copyVerdict, segmentSettleKey } from '../lib/fanout/segment-copy.js';
import type { RunLedger } from './run-ledger.js';
import type { FunctionRuntime } from './runtime.js';
import type { WorkerStats } from './worker-stats.js';

/** How the worker answered a message of a copy that was not (or not yet) the segment's winner. */
export type CopyAnswer =
  | { readonly staleCopy: number }
  | { readonly unsettledCopy: number; readonly backTo: 'dead-letter queue' | 'work queue' };

/**
 * The segment's verdict on `message`'s copy, read from its marker: `won` for a message of no copy, or with no
 * job table wired (nothing to judge by).
 */
export async function verdictOf(ledger: RunLedger | undefined, message: TaskMessage): Promise<CopyVerdict> {
  const { copy, jobId, runId } = message;
  if (!copy || !ledger) return 'won';
  return copyVerdict(copy, await ledger.store.settledMarker(jobId, runId, segmentSettleKey(copy.segment)));
}

/**
 * Judges a message of a segment copy (see above): undefined when it runs as any message, else what was done
 * with it instead. `body` is the SQS body as received, sent back unchanged. Throws when it could not be sent
 * back: the message fails, and SQS redelivers it.
 */
export async function answerCopy(
  rt: FunctionRuntime,
  logger: Logger,
  ledger: RunLedger | undefined,
  message: TaskMessage,
  body: string,
  stats: WorkerStats,
): Promise<CopyAnswer | undefined> {
  const verdict = await gone(ledger, message, await verdictOf(ledger, message));
  if (verdict === 'won') return undefined;
  const tasks = message.tasks.length;
  const details = { jobId: message.jobId, runId: message.runId, key: message.key, copy: message.copy, tasks };
  if (verdict === 'lost') {
    stats.staleCopies += tasks;
    logger.warn('message of a segment copy whose settle did not count: dropped, not run or counted', details);
    return { staleCopy: tasks };
  }
  const backTo = message.redrive ? 'dead-letter queue' : 'work queue';
  await sendBack(rt, message.redrive === true, body);
  stats.unsettledCopies += tasks;
  logger.warn(
    `message of a segment copy not settled yet: back to the ${backTo}, not run or counted`,
    details,
  );
  return { unsettledCopy: tasks, backTo };
}

/**
 * A hand-off of an unsettled segment whose run has no record (expired with the ledger's retention, or never
 * made), or was broken at that segment: no copy's settle can count it any more, so it is a loser's. This bounds
 * how long one goes round the queue.
 */
async function gone(ledger: RunLedger | undefined, message: TaskMessage, verdict: CopyVerdict) {
  if (verdict !== 'unsettled' || message.redrive || !ledger) return verdict;
  const run = await ledger.control.view(message.jobId, message.runId);
  return run && run.brokenSegment !== message.copy?.segment ? verdict : 'lost';
}

/** A dead letter back to the DLQ as it was; a hand-off back to the work queue, delayed as a paused run's hold. */
async function sendBack(rt: FunctionRuntime, deadLetter: boolean, body: string): Promise<void> {
  const url = deadLetter ? rt.wiring.dlqUrl : rt.wiring.queueUrl;
  const name = deadLetter ? EnvVars.DLQ_URL : EnvVars.QUEUE_URL;
  if (!url) throw new Error(`${name} is not set: the message cannot go back`);
  const delaySeconds = deadLetter ? 0 : rt.config.pauseRecheckSeconds;
  const failed = await sendMessageBatch(rt.aws.sqs, url, [{ Id: 'back', MessageBody: body }], {
    delaySeconds,
  });
  if (failed.length > 0) throw new Error(`not sent back to ${url}: ${failed.map((f) => f.error).join('; ')}`);
}
