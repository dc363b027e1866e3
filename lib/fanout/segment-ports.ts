import { ErrorCodes } from '../errors.js';
import { ManifestError } from '../manifest/errors.js';
import type { InvalidTaskItem, ManifestItem } from '../manifest/parse.js';
import type { JobTask } from '../manifest/schema.js';
import { SQS_MAX_BATCH_BYTES, SQS_MAX_BATCH_ENTRIES } from '../wire/sqs-limits.js';
import { Batcher, type Group } from './batcher.js';
import type { FailureBudget } from './failure-budget.js';
import type { DeadLetterTask, TaskMessage } from './messages.js';
import type { Reread } from './reread.js';
import type { SegmentCopy } from './segment-copy.js';
import type { JobCounts, JobPeaks, StopReason } from './summary.js';
import type { TaskOutcome } from './task-outcome.js';

// The contract of a segment (lib/fanout/segment.ts): its options, its result, and the ports through which
// the AWS side comes in, plus the small helpers the lanes share with the worker.

export interface SendEntry {
  readonly Id: string;
  readonly MessageBody: string;
}

export interface EntryFailure {
  readonly id: string;
  readonly error: string;
  /** SQS blamed the entry's content (InvalidMessageContents, too long): resending it as it is cannot succeed. */
  readonly senderFault?: boolean;
}

/** What the error of a task the segment's cutoff stopped (inline, or an Invoke abandoned) starts with. */
export const CUT_OFF = `${ErrorCodes.DEADLINE}: cut off at the orchestrator's deadline`;

export interface SegmentPorts {
  /** Runs an inline task; `cutoff` (the segment's) aborts it, waiting or mid-attempt. */
  runInline(task: JobTask, cutoff?: AbortSignal): Promise<TaskOutcome>;
  /** Sends one SendMessageBatch to the work queue; resolves to the entries that still failed after retries. */
  sendTasks(entries: readonly SendEntry[]): Promise<readonly EntryFailure[]>;
  /** The same to the dead-letter queue. */
  sendDeadLetters(entries: readonly SendEntry[]): Promise<readonly EntryFailure[]>;
  /**
   * Invokes the worker synchronously with a chunk; rejects when the call itself failed after retries, or at
   * once when `cutoff` fires (the call is abandoned: its worker may still run the tasks).
   */
  invoke(message: TaskMessage, cutoff?: AbortSignal): Promise<readonly TaskOutcome[]>;
}

export interface SegmentHooks {
  onInvalid?(item: InvalidTaskItem): void;
  onDeadLetter?(record: DeadLetterTask): void;
  /** A task that could be neither run, enqueued nor dead-lettered. */
  onUndeliverable?(record: DeadLetterTask, error: string): void;
  /** An inline task the cutoff stopped, dead-lettered with `error`. */
  onCutOff?(task: JobTask, error: string): void;
}

export interface SegmentLimits {
  readonly inline: number;
  readonly enqueue: number;
  readonly invoke: number;
  readonly tasksPerMessage: number;
  readonly tasksPerInvoke: number;
  readonly retryDelaySeconds?: number;
}

export interface SegmentOptions {
  readonly jobId: string;
  readonly runId: string;
  readonly items: AsyncIterable<ManifestItem>;
  /** Index of the first task of this segment: earlier ones were handled by earlier invocations. */
  readonly startAt: number;
  /** Sequence number of the first message this segment sends (keys stay unique across segments). */
  readonly firstMessageSeq: number;
  /** The tasks from `startAt` the previous segment handed back (lib/fanout/reread.ts); none when absent. */
  readonly reread?: Reread;
  readonly limits: SegmentLimits;
  /**
   * This copy of the segment (lib/fanout/segment-copy.ts): carried on its dead letters and on a paused chunk's
   * hand-off, which count only if this copy's settle is the segment's.
   */
  readonly copy?: SegmentCopy;
  readonly budget: FailureBudget;
  readonly counts: JobCounts;
  readonly shouldStop: () => boolean;
  /**
   * Awaited before each task is read, and again once an inline task holds its permit (a pause may come while it
   * waits for one): the orchestrator waits here while the job ledger says the run is paused (it returns at once
   * otherwise, or when shouldStop() turns true).
   */
  readonly hold?: () => Promise<void>;
  /**
   * A live lower cap on inline tasks in flight (a run's override, which its caller refreshes), asked before
   * each inline task starts: the inline limit follows it while the segment runs, never above `limits.inline`.
   * Holders over a lowered cap finish; none starts until the in-flight count is under it. Undefined: no cap.
   */
  readonly inlineCap?: () => number | undefined;
  /**
   * Aborts the inline tasks and Invokes still running (the invocation's deadline is close): each task is
   * dead-lettered with its error under CUT_OFF, so the segment settles in time. Without it a host that never
   * answers holds the segment until Lambda kills it, with nothing settled.
   */
  readonly cutoff?: AbortSignal;
  readonly ports: SegmentPorts;
  readonly hooks?: SegmentHooks;
}

export interface SegmentResult {
  readonly reason: StopReason;
  /** Why reading the manifest failed, when `reason` is `manifest-error`. */
  readonly error?: string;
  /**
   * Index of the first task not handled (read, or handed back: lib/fanout/reread.ts); undefined when the
   * manifest was read to its end.
   */
  readonly cursor?: number;
  /** From `cursor`, the tasks handed back, when any were: the next segment starts only those up to `to`. */
  readonly reread?: Reread;
  readonly nextMessageSeq: number;
  readonly counts: JobCounts;
  readonly peaks: JobPeaks;
}

export function newSendBatcher<T>(): Batcher<T> {
  return new Batcher<T>({ maxItems: SQS_MAX_BATCH_ENTRIES, maxBytes: SQS_MAX_BATCH_BYTES });
}

/**
 * `items` in order, in SendMessageBatch groups of at most 10 and SQS_MAX_BATCH_BYTES by `sizeOf` (the send
 * batcher's): SQS refuses a batch over its total size whole. One item larger than that goes alone, for SQS to
 * judge.
 */
export function sendGroups<T>(items: readonly T[], sizeOf: (item: T) => number): T[][] {
  const batcher = newSendBatcher<T>();
  const groups: T[][] = [];
  const close = (group: Group<T> | undefined) => {
    if (group) groups.push(group.items);
  };
  for (const item of items) {
    const size = sizeOf(item);
    if (size > batcher.maxItemBytes) {
      close(batcher.flush());
      groups.push([item]);
    } else close(batcher.add(item, size));
  }
  close(batcher.flush());
  return groups;
}

/** A port's result, or a failed one when it threw. */
export async function settleResult(run: () => Promise<TaskOutcome>): Promise<TaskOutcome> {
  try {
    return await run();
  } catch (error) {
    return { id: '?', ok: false, attempts: 1, error: errorText(error) };
  }
}

/** A send's failures, or every entry failed when it threw. */
export async function settleFailures(
  send: () => Promise<readonly EntryFailure[]>,
  entries: readonly SendEntry[],
): Promise<readonly EntryFailure[]> {
  try {
    return await send();
  } catch (error) {
    return entries.map((e) => ({ id: e.Id, error: errorText(error) }));
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The next item, or the error reading it (a ManifestError by its message: it names the field). */
export async function readNext(
  reader: AsyncIterator<ManifestItem>,
): Promise<IteratorResult<ManifestItem> | { error: string }> {
  try {
    return await reader.next();
  } catch (error) {
    return { error: error instanceof ManifestError ? error.message : errorText(error) };
  }
}
