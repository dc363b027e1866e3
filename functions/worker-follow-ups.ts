// A message's settle, then its follow-ups, in that order. An SQS message may be delivered twice (its
// visibility timeout passed, a worker died, or two copies of a segment sent it), and its deliveries may end a
// task differently: failed and retried in one, succeeded in the other. The ledger counts the message once,
// from its first settle, so only the follow-ups of that settle may run: the retry of a task the other
// delivery counted succeeded would count it twice. So a delivery settles first, with its follow-ups by task
// position kept on the message's marker (lib/fanout/follow-up-plan.ts), and then sends the follow-ups of the
// settle that was first: its own when its settle applied, else the ones the marker kept. A worker that dies
// between its settle and its sends fails the message; its redelivery finds the marker and sends them then.
// One whose record fails once they are out and counted (`<key>!handed` settled) left nothing to send: its
// redelivery sends none of them again, the dead letters above all, each of which must be in the DLQ once.
// The follow-ups' keys derive from the message's, so a re-send is the same message again, counted once.
//
// The failed tasks count when they are out: the settle counts the succeeded and cancelled, and the dead
// letters (and undeliverable) are settled after the sends and the result lines, under `<key>!handed`, once,
// so a run is never ended before its result lines are written. Bounded: one settle per message, a second
// only when some of its tasks were dead-lettered; never a write per task. The one exception is a redriven
// dead letter, rare and operator-made: its tasks were counted dead-lettered already and it may come as
// several copies, so each of its tasks that ends now moves out of `deadLettered` under a key of its own,
// before the message's settle (worker-hand-on.ts movedSettles): whichever copy gets there first moves it.
import type { Logger } from '@aws-lambda-powertools/logger';
import { putResultPart } from '../lib/aws/results.js';
import {
  emptyPlan,
  type FollowUpPlan,
  isEmptyPlan,
  keptPlan,
  parsePlan,
} from '../lib/fanout/follow-up-plan.js';
import type { TaskMessage } from '../lib/fanout/messages.js';
import { type FollowUp, type FollowUps, followUpsOf, type Settlement } from '../lib/fanout/settle.js';
import type { SettleInput } from '../lib/ledger/job-ledger.js';
import type { BatchMember } from './batch-settles.js';
import type { RunLedger, SettledOnce } from './run-ledger.js';
import type { FunctionRuntime } from './runtime.js';
import {
  type HandedOn,
  handedDelta,
  handOn,
  movedSettles,
  movedUndeliverable,
  settledDelta,
} from './worker-hand-on.js';

export type SettleMember = BatchMember<SettledOnce>;

/** What settleThenFollowUp does, as steps: the worker's (workerFollowUps) or a test's. */
export interface FollowUpPorts {
  /** Settles the message (at its batch's barrier); undefined when no job table is wired. */
  readonly settle?: (input: SettleInput) => Promise<SettledOnce>;
  /** The `state` the message's first settle kept on its marker (JobLedger.settledState). */
  readonly kept: (message: TaskMessage) => Promise<unknown>;
  /** Sends the follow-ups (worker-hand-on.ts handOn): throws when some could not be sent. */
  readonly handOn: (message: TaskMessage, followUps: FollowUps) => Promise<HandedOn>;
  /** Writes the dead letters' result lines. */
  readonly writeLines: (message: TaskMessage, lines: readonly object[]) => Promise<void>;
  /**
   * Settles a key outside the batch's barrier (RunLedger.settle): the dead letters once they are out, and a
   * redrive's moved tasks. Undefined when no job table is wired.
   */
  readonly settleApart?: (input: SettleInput) => Promise<unknown>;
  readonly logger?: Pick<Logger, 'info'>;
  /** Of a kept plan's follow-ups, those not settled yet (followUpKept); absent: all of them. */
  readonly unsettled?: (message: TaskMessage, followUps: FollowUps) => Promise<FollowUps>;
}

/** The key under which a message's dead letters are counted, once, after they were sent. */
export const handedKey = (key: string): string => `${key}!handed`;

/**
 * Settles `message` (what `settlement` counts, its plan on the marker), then hands on the follow-ups of the
 * message's first settle, writes their result lines and counts their dead letters. Throws when a follow-up
 * could not be sent: the message fails, and its redelivery sends them.
 */
export async function settleThenFollowUp(
  ports: FollowUpPorts,
  message: TaskMessage,
  settlement: Settlement,
): Promise<HandedOn & { readonly applied: boolean }> {
  const { jobId, runId, key } = message;
  const { plan } = settlement;
  const state = isEmptyPlan(plan) ? undefined : { ...keptPlan(plan) };
  const delta = settledDelta(message, settlement);
  await settleAll(ports, movedSettles(message, settlement));
  const settled = await ports.settle?.({ jobId, runId, key, delta, state, ...segmentOf(message) });
  // Not applied and no record read: the ledger keeps no such run (no marker written), this delivery's own go.
  const applied = !settled || settled.applied || (settled.record === undefined && !settled.unread);
  if (applied) return { ...(await followUp(ports, message, plan)), applied };
  return { ...(await followUpKept(ports, message, await ports.kept(message))), applied };
}

/**
 * A message settled before, found again (its delivery died before its follow-ups, and the run is paused now):
 * sends the follow-ups its first settle kept (`state`, JobLedger.settledMarker), not the whole message again,
 * but those that have settled since (ports.unsettled): they went out and ran, and in `off` mode a copy of one
 * would run its tasks again.
 */
export function followUpKept(ports: FollowUpPorts, message: TaskMessage, state: unknown): Promise<HandedOn> {
  return followUp(ports, message, keptBy(ports, message, state), ports.unsettled);
}

/**
 * When `message` was settled before (a delivery that died after its settle and before its answer, or a copy of
 * it): sends the follow-ups that settle kept, and answers what it handed on; undefined when its key has no
 * marker (or no job table is wired). One read of the marker; none of the message's tasks runs again. A kept
 * follow-up whose own marker says it settled is not sent again: it went out and ran before this receive (in
 * `off` mode a copy of it would run its tasks again). When nothing went onward, the run is ended if that settle
 * completed it: its delivery may have died before the run's end, and nothing else would end it (one read).
 */
export async function resendIfSettled(
  rt: FunctionRuntime,
  logger: Logger,
  ledger: RunLedger | undefined,
  member: SettleMember | undefined,
  message: TaskMessage,
): Promise<{ settledBefore: true; handedOn: number; retried: number } | undefined> {
  const marker = await ledger?.store.settledMarker(message.jobId, message.runId, message.key);
  if (!ledger || !marker) return undefined;
  const handed = await followUpKept(workerFollowUps(rt, logger, ledger, member), message, marker.state);
  if (handed.retried + handed.handedOn === 0) await ledger.endIfComplete(message.jobId, message.runId);
  return { settledBefore: true, handedOn: handed.handedOn, retried: handed.retried };
}

/**
 * The follow-ups whose keys `ledger` has not settled, each key read apart (a message has one or two); none when
 * the message's dead letters were counted (`<key>!handed` settled): that settle comes only once every follow-up
 * of the kept plan went out and its result lines were written, so a delivery whose record failed after it (its
 * idempotency write failed, its sandbox killed, its delete lost) left nothing to send, and a dead letter sent
 * again would be a second one in the DLQ for one task (a redrive would run it twice).
 */
function unsettledIn(ledger: RunLedger): (message: TaskMessage, followUps: FollowUps) => Promise<FollowUps> {
  return async ({ jobId, runId, key }, followUps) => {
    const open = async (list: readonly FollowUp[]) => {
      const markers = await Promise.all(
        list.map((f) => ledger.store.settledMarker(jobId, runId, f.message.key)),
      );
      return list.filter((_, i) => !markers[i]);
    };
    const [handed, retries, handedOn] = await Promise.all([
      ledger.store.settledMarker(jobId, runId, handedKey(key)),
      open(followUps.retries),
      open(followUps.handedOn),
    ]);
    if (handed) return { retries: [], handedOn: [], deadLetters: [] };
    return { ...followUps, retries, handedOn };
  };
}

/** Sends `plan`'s follow-ups (but those `unsettled` leaves out), writes their result lines, then counts their dead letters once. */
async function followUp(
  ports: FollowUpPorts,
  message: TaskMessage,
  plan: FollowUpPlan,
  unsettled?: FollowUpPorts['unsettled'],
): Promise<HandedOn> {
  const { jobId, runId, key } = message;
  const all = followUpsOf(message, plan);
  const handed = await ports.handOn(message, unsettled ? await unsettled(message, all) : all);
  await ports.writeLines(message, handed.lines);
  const counted = handedDelta(message, handed);
  if (counted) {
    await ports.settleApart?.({ jobId, runId, key: handedKey(key), delta: counted, ...segmentOf(message) });
  }
  await settleAll(ports, movedUndeliverable(message, handed.undeliverableIds));
  return handed;
}

/** The segment whose queued tasks the message holds, for the ledger's per-segment tally (SettleInput.segment). */
function segmentOf(message: TaskMessage): { readonly segment?: number } {
  return message.segment === undefined ? {} : { segment: message.segment };
}

/** Settles each of `inputs` apart, all issued in one tick: the ledger's group commit sends them together. */
async function settleAll(ports: FollowUpPorts, inputs: readonly SettleInput[]): Promise<void> {
  const { settleApart } = ports;
  if (settleApart && inputs.length > 0) await Promise.all(inputs.map((input) => settleApart(input)));
}

/** The plan the message's first settle kept (none: nothing to send). */
function keptBy(ports: FollowUpPorts, message: TaskMessage, state: unknown): FollowUpPlan {
  const kept = parsePlan(state, message);
  ports.logger?.info('message settled by another delivery: its follow-ups go, not this one’s', {
    key: message.key,
    retried: kept?.retry.length ?? 0,
    handedOn: kept?.handOn.length ?? 0,
    deadLettered: kept?.dead.length ?? 0,
  });
  return kept ?? emptyPlan;
}

/** The worker's steps: its batch member, its ledger, SQS and the results bucket. */
export function workerFollowUps(
  rt: FunctionRuntime,
  logger: Logger,
  ledger: RunLedger | undefined,
  member: SettleMember | undefined,
): FollowUpPorts {
  return {
    ...(member ? { settle: (input: SettleInput) => member.settle(input) } : {}),
    kept: async ({ jobId, runId, key }) => ledger?.store.settledState(jobId, runId, key),
    handOn: (message, followUps) => handOn(rt, logger, message, followUps),
    writeLines: (message, lines) => writeLines(rt, ledger, message, lines),
    ...(ledger ? { settleApart: (input: SettleInput) => ledger.settle(input) } : {}),
    ...(ledger ? { unsettled: unsettledIn(ledger) } : {}),
    logger,
  };
}

/** The message's dead-lettered and undeliverable tasks, as lines of the run's result object. */
async function writeLines(
  rt: FunctionRuntime,
  ledger: RunLedger | undefined,
  message: TaskMessage,
  lines: readonly object[],
): Promise<void> {
  const { bucket } = rt.wiring;
  if (!bucket || !ledger || lines.length === 0) return;
  const { jobId, runId, key } = message;
  const part = { bucket, prefix: rt.config.resultsPrefix, jobId, runId, name: key };
  await putResultPart(rt.aws.s3, part, lines);
}
