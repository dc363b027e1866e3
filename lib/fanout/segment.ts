import { ErrorCodes } from '../error-codes.js';
import type { ManifestItem } from '../manifest/parse.js';
import type { JobTask } from '../manifest/schema.js';
import { Semaphore } from '../semaphore.js';
import { DeadLetterPacker, deadLetterEnvelope } from './dead-letter-packer.js';
import { InlineSlots } from './inline-slots.js';
import { type ChunkSink, runChunk } from './invoke-chunk.js';
import {
  type DeadLetterTask,
  deadLetterTask,
  MESSAGE_VERSION,
  MessageKinds,
  type TaskEnvelope,
} from './messages.js';
import {
  type DeadLetterPacket,
  splitDeadLetterPacket,
  splitTaskPacket,
  type TaskPacket,
  taskPacket,
  type WireItem,
  wireItem,
} from './packets.js';
import { handledBefore } from './reread.js';
import { SegmentPackers } from './segment-packers.js';
import { CUT_OFF, readNext, type SegmentOptions, type SegmentResult, settleResult } from './segment-ports.js';
import type { IsolatedSend } from './send-isolated.js';
import { SendLane } from './send-lane.js';
import { type JobCounts, type StopReason, StopReasons } from './summary.js';

export * from './segment-ports.js';

/*
One invocation's share of a job (a segment): it reads the manifest from `startAt`, runs inline tasks under
permits that follow a live cap (inline-slots.ts), packs queue tasks into messages that a bounded queue hands
to `limits.enqueue` senders (send-lane.ts: a full queue holds the read back), chunks invoke tasks into Invoke
calls (under a Semaphore; those a paused run left unstarted go to the work queue: invoke-chunk.ts), and
dead-letters what fails for good (a second send lane). Reading stops when `shouldStop()` says so (the
deadline) or the failure budget trips; the part-filled message and chunk are then handed back, not sent
(reread.ts: a retried copy sends the same messages under the same keys), and all else read is awaited, but
for inline tasks and Invokes `cutoff` stops (dead-lettered). Every task before the cursor, and in the
reread part every one not handed back, was run, enqueued or dead-lettered; no other started. A message SQS
refuses for its content is split until the task at fault stands alone, and only that task is dead-lettered
(send-isolated.ts). No AWS here: `ports`.
*/

const DLQ_SENDS_IN_FLIGHT = 2;
/** Batches a send lane holds for its senders: the read runs at most this far (plus one batch) ahead. */
const BATCHES_QUEUED = 1;

export async function runSegment(options: SegmentOptions): Promise<SegmentResult> {
  return new Segment(options).run();
}

class Segment {
  readonly #o: SegmentOptions;
  readonly #counts: JobCounts;
  readonly #inline: InlineSlots;
  readonly #invoke: Semaphore;
  readonly #pending = new Set<Promise<void>>();
  readonly #packers: SegmentPackers;
  readonly #deadPacker: DeadLetterPacker;
  readonly #tasks: SendLane<TaskPacket>;
  readonly #dead: SendLane<DeadLetterPacket>;
  readonly #chunks: ChunkSink;
  #seq: number;
  #bug: unknown;

  constructor(options: SegmentOptions) {
    const { limits, ports, jobId, runId, copy } = options;
    this.#o = options;
    this.#counts = { ...options.counts };
    this.#inline = new InlineSlots(limits.inline, options.inlineCap);
    this.#invoke = new Semaphore(limits.invoke);
    this.#seq = options.firstMessageSeq;
    this.#packers = new SegmentPackers(limits);
    this.#deadPacker = new DeadLetterPacker(deadLetterEnvelope(jobId, runId, 'orchestrator', copy));
    const onBug = (error: unknown) => this.#noteBug(error);
    this.#tasks = new SendLane<TaskPacket>({
      senders: limits.enqueue,
      maxQueued: BATCHES_QUEUED,
      send: (entries) => ports.sendTasks(entries),
      split: splitTaskPacket,
      onSent: (out) => this.#tasksSent(out),
      onBug,
    });
    this.#dead = new SendLane<DeadLetterPacket>({
      senders: DLQ_SENDS_IN_FLIGHT,
      maxQueued: BATCHES_QUEUED,
      send: (entries) => ports.sendDeadLetters(entries),
      split: splitDeadLetterPacket,
      onSent: (out) => this.#deadLettersSent(out),
      onBug,
    });
    this.#chunks = {
      ...(options.cutoff ? { cutoff: options.cutoff } : {}),
      ...(copy ? { copy } : {}),
      counts: this.#counts,
      budget: options.budget,
      deadLetter: (record) => this.#deadLetter(record),
      enqueue: (packet) => this.#tasks.add(packet),
    };
  }

  async run(): Promise<SegmentResult> {
    const { budget } = this.#o;
    const read = await this.#read();
    let { reason } = read;
    // Stopped before the manifest's end: the part-filled message and chunk are handed back, not counted read.
    const left =
      read.stoppedAt === undefined ? undefined : this.#packers.handBack(read.stoppedAt, this.#o.reread);
    this.#counts.read -= left?.dropped ?? 0;
    await this.#drain();
    const peaks = {
      inline: this.#inline.peakInFlight,
      enqueue: this.#tasks.peakInFlight,
      invoke: this.#invoke.peakInFlight,
    };
    // A budget that tripped on the last tasks still fails the job.
    if (reason === StopReasons.COMPLETE && budget.tripped) reason = StopReasons.FAILURE_BUDGET;
    const out = { reason, cursor: left?.cursor, nextMessageSeq: this.#seq, counts: this.#counts, peaks };
    const withReread = left?.reread ? { ...out, reread: left.reread } : out;
    return read.error === undefined ? withReread : { ...withReread, error: read.error };
  }

  /** Reads and starts tasks until the manifest ends, breaks, or the segment must stop. */
  async #read(): Promise<{ reason: StopReason; stoppedAt?: number; error?: string }> {
    const { items, startAt, reread, shouldStop, budget } = this.#o;
    const reader = items[Symbol.asyncIterator]();
    // The first task not read yet: where a read the cutoff let go stops.
    let unread = startAt;
    for (;;) {
      const next = await readNext(reader);
      // A read the cutoff let go (the orchestrator's: stuck reopening a lost connection, or stalled) stops as a
      // deadline does, where it got to, but not inside the reread part (read through, as below).
      const cut = this.#o.cutoff?.aborted && (!reread || unread >= reread.to);
      if ('error' in next && cut) return { reason: StopReasons.DEADLINE, stoppedAt: unread };
      // The manifest broke after some tasks were read (truncated, a second "tasks"): what was read still
      // runs to its end and is counted; the job ends failed, never thrown, since a retry of the invocation
      // would run those tasks again.
      if ('error' in next) return { reason: StopReasons.MANIFEST_ERROR, error: next.error };
      if (next.done) return { reason: StopReasons.COMPLETE };
      const item = next.value;
      unread = item.index + 1;
      if (handledBefore(item, startAt, reread)) continue;
      if (this.#o.hold) await this.#o.hold();
      // The reread part is read through whatever the deadline: it holds at most the tasks of one message and
      // one chunk, and a stop inside it would leave the next segment two parts to tell apart.
      const rereading = reread !== undefined && item.index < reread.to;
      const stop = budget.tripped
        ? StopReasons.FAILURE_BUDGET
        : !rereading && shouldStop()
          ? StopReasons.DEADLINE
          : undefined;
      const started = stop === undefined && (await this.#dispatch(item));
      if (!started) {
        // Stops the stream (an S3 body) when reading ended early, as `break` in a for-await would.
        await reader.return?.();
        const reason = stop ?? (budget.tripped ? StopReasons.FAILURE_BUDGET : StopReasons.DEADLINE);
        return { reason, stoppedAt: item.index };
      }
    }
  }

  /** Starts one task; false when it was not started because the segment must stop. */
  async #dispatch(item: ManifestItem): Promise<boolean> {
    if (!item.ok) {
      this.#counts.read++;
      this.#counts.invalid++;
      this.#o.hooks?.onInvalid?.(item);
      return true;
    }
    const { task } = item;
    if (task.mode === 'inline') {
      const release = await this.#inline.acquire();
      // Held again: a pause may have come while it waited for its permit, past the hold before its read.
      if (this.#o.hold) await this.#o.hold();
      if (this.#o.budget.tripped || this.#o.shouldStop()) {
        release();
        return false;
      }
      this.#counts.read++;
      this.#track(this.#runInline(task).finally(release));
      return true;
    }
    this.#counts.read++;
    // Serialized once, to its wire JSON: its size here is the bytes it takes in the message body.
    const wired = wireItem(task);
    const bytes = Buffer.byteLength(wired.json);
    if (task.mode === 'invoke') {
      const chunk = this.#packers.addInvoked(task, bytes, item.index);
      if (chunk) await this.#startInvoke(chunk.items);
    } else {
      const pack = this.#packers.addQueued(wired, bytes, item.index);
      if (pack) await this.#addMessage(pack.items);
    }
    return true;
  }

  async #runInline(task: JobTask): Promise<void> {
    const { cutoff } = this.#o;
    const result = await settleResult(() => this.#o.ports.runInline(task, cutoff));
    this.#o.budget.record(result.ok);
    if (result.ok) this.#counts.inlineSucceeded++;
    else {
      this.#counts.inlineFailed++;
      let error = result.error ?? `status ${result.status}`;
      // Dead-lettered like any failure (redrive runs it again), not handed to the queue: a message sent here
      // is counted by the worker whichever copy of this segment sent it, but only one copy's settle counts.
      // Named the cutoff's only when the abort ended it: a 404 that landed as the cutoff fired keeps its own.
      if (cutoff?.aborted && (result.unstarted || error.startsWith(ErrorCodes.ABORTED))) {
        error = `${CUT_OFF}: ${error}`;
        this.#o.hooks?.onCutOff?.(task, error);
      }
      // Never sent (the cutoff came while it waited for its host's permit): 0 attempts, as the invoke path says.
      await this.#deadLetter(deadLetterTask(task, result.unstarted ? 0 : 1, error, result.status));
    }
  }

  #envelope(): TaskEnvelope {
    const { jobId, runId, limits, copy } = this.#o;
    const seq = this.#seq++;
    const envelope = {
      v: MESSAGE_VERSION,
      kind: MessageKinds.TASKS,
      jobId,
      runId,
      key: `${jobId}:${runId}:${seq}`,
      attempt: 1,
      ...(copy ? { segment: copy.segment } : {}),
    };
    return limits.retryDelaySeconds ? { ...envelope, retryDelaySeconds: limits.retryDelaySeconds } : envelope;
  }

  /** One task message into the send lane: waits while the lane's queue is full (back-pressure on the read). */
  async #addMessage(tasks: WireItem<JobTask>[]): Promise<void> {
    const envelope = this.#envelope();
    const id = `m${envelope.key.slice(envelope.key.lastIndexOf(':') + 1)}`;
    await this.#tasks.add(taskPacket(id, envelope, tasks));
  }

  async #tasksSent(out: IsolatedSend<TaskPacket>): Promise<void> {
    this.#counts.batches += out.calls;
    this.#counts.messages += out.sent.length;
    for (const packet of out.sent) this.#counts.enqueued += packet.items.length;
    for (const { packet, error } of out.refused) {
      for (const { value } of packet.items) {
        await this.#deadLetter(deadLetterTask(value, 0, `not enqueued: ${error}`));
      }
    }
  }

  async #startInvoke(tasks: JobTask[]): Promise<void> {
    const release = await this.#invoke.acquire();
    const message = { ...this.#envelope(), tasks };
    this.#track(runChunk(this.#o.ports, message, this.#chunks).finally(release));
  }

  async #deadLetter(record: DeadLetterTask): Promise<void> {
    this.#o.hooks?.onDeadLetter?.(record);
    const packet = this.#deadPacker.add(record);
    if (packet) await this.#dead.add(packet);
  }

  #deadLettersSent(out: IsolatedSend<DeadLetterPacket>): void {
    for (const packet of out.sent) this.#counts.deadLettered += packet.items.length;
    // A record the DLQ refuses even alone: counted and reported by task id with SQS's error, never dropped.
    for (const { packet, error } of out.refused) {
      this.#counts.undeliverable += packet.items.length;
      for (const { value } of packet.items) this.#o.hooks?.onUndeliverable?.(value, error);
    }
  }

  #track(promise: Promise<void>): void {
    const tracked = promise.catch((error) => this.#noteBug(error));
    this.#pending.add(tracked);
    tracked.finally(() => this.#pending.delete(tracked));
  }

  // Lanes turn every failure into a dead letter and never reject: a rejection is a bug, and the segment
  // rethrows it at the end rather than lose it.
  #noteBug(error: unknown): void {
    this.#bug ??= error;
  }

  /** Flushes every partial group and waits for all work, including the dead letters it produces. */
  async #drain(): Promise<void> {
    const { pack, chunk } = this.#packers.flush();
    if (pack) await this.#addMessage(pack.items);
    if (chunk) await this.#startInvoke(chunk.items);
    // The last message goes now; the lane closes once no Invoke is left to hand it a paused run's tasks.
    await this.#tasks.flush();
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await this.#tasks.close();
    const dead = this.#deadPacker.flush();
    if (dead) await this.#dead.add(dead);
    await this.#dead.close();
    if (this.#bug !== undefined) throw this.#bug;
  }
}
