import { ManifestError } from '../manifest/errors.js';
import type { ManifestItem } from '../manifest/parse.js';
import type { JobTask } from '../manifest/schema.js';
import { Semaphore } from '../semaphore.js';
import { SQS_MAX_MESSAGE_BYTES, TASK_ENVELOPE_BYTES } from '../wire/sqs-limits.js';
import { Batcher, type Group } from './batcher.js';
import {
  type DeadLetterEnvelope,
  type DeadLetterTask,
  deadLetterTask,
  MESSAGE_VERSION,
  MessageKinds,
  type TaskEnvelope,
  type TaskMessage,
} from './messages.js';
import {
  type DeadLetterPacket,
  deadLetterPacket,
  splitDeadLetterPacket,
  splitTaskPacket,
  type TaskPacket,
  taskPacket,
  type WireItem,
  wireItem,
} from './packets.js';
import {
  errorText,
  newDeadLetterPacker,
  newSendBatcher,
  type SegmentOptions,
  type SegmentResult,
  settleResult,
  type TaskResult,
} from './segment-ports.js';
import { sendIsolated } from './send-isolated.js';
import { type JobCounts, type StopReason, StopReasons } from './summary.js';

export * from './segment-ports.js';

/*
One invocation's share of a job (a segment): it reads the manifest from `startAt`, runs inline tasks
under one Semaphore, packs queue tasks into messages and messages into SendMessageBatch calls (under
another), chunks invoke tasks into synchronous Invoke calls (under a third), and dead-letters whatever
fails for good. Reading stops when `shouldStop()` says so (the deadline) or the failure budget trips;
then everything already read is flushed and awaited, so the cursor (the index of the first task not
read) splits the manifest cleanly: every task before it was run, enqueued or dead-lettered, none after it
was started. The AWS side comes in through `ports`, so this file has no AWS in it.
Messages go out through sendIsolated: a message SQS refuses for its content is split until the task at
fault stands alone, and only that task is dead-lettered (lib/fanout/send-isolated.ts).
*/

const DLQ_SENDS_IN_FLIGHT = 2;

/** The next item, or the error reading it (a ManifestError by its message: it names the field). */
async function readNext(
  reader: AsyncIterator<ManifestItem>,
): Promise<IteratorResult<ManifestItem> | { error: string }> {
  try {
    return await reader.next();
  } catch (error) {
    return { error: error instanceof ManifestError ? error.message : errorText(error) };
  }
}

export async function runSegment(options: SegmentOptions): Promise<SegmentResult> {
  return new Segment(options).run();
}

class Segment {
  readonly #o: SegmentOptions;
  readonly #counts: JobCounts;
  readonly #inline: Semaphore;
  readonly #enqueue: Semaphore;
  readonly #invoke: Semaphore;
  readonly #dlq = new Semaphore(DLQ_SENDS_IN_FLIGHT);
  readonly #pending = new Set<Promise<void>>();
  readonly #taskPacker: Batcher<WireItem<JobTask>>;
  readonly #invokePacker: Batcher<JobTask>;
  readonly #deadPacker: Batcher<WireItem<DeadLetterTask>>;
  readonly #sendBatcher = newSendBatcher<TaskPacket>();
  readonly #deadBatcher = newSendBatcher<DeadLetterPacket>();
  #seq: number;
  #deadSeq = 0;
  #bug: unknown;

  constructor(options: SegmentOptions) {
    this.#o = options;
    this.#counts = { ...options.counts };
    this.#inline = new Semaphore(options.limits.inline);
    this.#enqueue = new Semaphore(options.limits.enqueue);
    this.#invoke = new Semaphore(options.limits.invoke);
    this.#seq = options.firstMessageSeq;
    const packing = {
      maxBytes: SQS_MAX_MESSAGE_BYTES,
      overheadBytes: TASK_ENVELOPE_BYTES,
      separatorBytes: 1,
    };
    this.#taskPacker = new Batcher({ ...packing, maxItems: options.limits.tasksPerMessage });
    this.#invokePacker = new Batcher({ ...packing, maxItems: options.limits.tasksPerInvoke });
    this.#deadPacker = newDeadLetterPacker();
  }

  async run(): Promise<SegmentResult> {
    const { items, startAt, shouldStop, budget } = this.#o;
    let cursor: number | undefined;
    let reason: StopReason = StopReasons.COMPLETE;
    let readError: string | undefined;
    const reader = items[Symbol.asyncIterator]();
    for (;;) {
      const next = await readNext(reader);
      if ('error' in next) {
        // The manifest broke after some tasks were read (truncated, a second "tasks"): what was read
        // still runs to its end below and is counted; the job ends failed, never thrown, since a retry
        // of the invocation would run those tasks again.
        [reason, readError] = [StopReasons.MANIFEST_ERROR, next.error];
        break;
      }
      if (next.done) break;
      const item = next.value;
      if (item.index < startAt) continue;
      if (this.#o.hold) await this.#o.hold();
      const stop = budget.tripped
        ? StopReasons.FAILURE_BUDGET
        : shouldStop()
          ? StopReasons.DEADLINE
          : undefined;
      if (stop) {
        [cursor, reason] = [item.index, stop];
        break;
      }
      const started = await this.#dispatch(item);
      if (!started) {
        [cursor, reason] = [item.index, budget.tripped ? StopReasons.FAILURE_BUDGET : StopReasons.DEADLINE];
        break;
      }
    }
    // Stops the stream (an S3 body) when reading ended early, as `break` in a for-await would.
    if (cursor !== undefined) await reader.return?.();
    await this.#drain();
    const peaks = {
      inline: this.#inline.peakInFlight,
      enqueue: this.#enqueue.peakInFlight,
      invoke: this.#invoke.peakInFlight,
    };
    // A budget that tripped on the last tasks still fails the job.
    if (reason === StopReasons.COMPLETE && budget.tripped) reason = StopReasons.FAILURE_BUDGET;
    const out = { reason, cursor, nextMessageSeq: this.#seq, counts: this.#counts, peaks };
    return readError === undefined ? out : { ...out, error: readError };
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
      const chunk = this.#invokePacker.add(task, bytes);
      if (chunk) await this.#startInvoke(chunk.items);
    } else {
      const pack = this.#taskPacker.add(wired, bytes);
      if (pack) await this.#addMessage(pack.items);
    }
    return true;
  }

  async #runInline(task: JobTask): Promise<void> {
    const result = await settleResult(() => this.#o.ports.runInline(task));
    this.#o.budget.record(result.ok);
    if (result.ok) this.#counts.inlineSucceeded++;
    else {
      this.#counts.inlineFailed++;
      await this.#deadLetter(
        deadLetterTask(task, 1, result.error ?? `status ${result.status}`, result.status),
      );
    }
  }

  #envelope(): TaskEnvelope {
    const { jobId, runId, limits } = this.#o;
    const seq = this.#seq++;
    const envelope = {
      v: MESSAGE_VERSION,
      kind: MessageKinds.TASKS,
      jobId,
      runId,
      key: `${jobId}:${runId}:${seq}`,
      attempt: 1,
    };
    return limits.retryDelaySeconds ? { ...envelope, retryDelaySeconds: limits.retryDelaySeconds } : envelope;
  }

  async #addMessage(tasks: WireItem<JobTask>[]): Promise<void> {
    const envelope = this.#envelope();
    const packet = taskPacket(`m${envelope.key.slice(envelope.key.lastIndexOf(':') + 1)}`, envelope, tasks);
    const batch = this.#sendBatcher.add(packet, packet.bytes);
    if (batch) await this.#sendBatch(batch);
  }

  async #sendBatch(batch: Group<TaskPacket>): Promise<void> {
    const release = await this.#enqueue.acquire();
    const send = async () => {
      const out = await sendIsolated(batch.items, (e) => this.#o.ports.sendTasks(e), splitTaskPacket);
      this.#counts.batches += out.calls;
      this.#counts.messages += out.sent.length;
      for (const packet of out.sent) this.#counts.enqueued += packet.items.length;
      for (const { packet, error } of out.refused) {
        for (const { value } of packet.items) {
          await this.#deadLetter(deadLetterTask(value, 0, `not enqueued: ${error}`));
        }
      }
    };
    this.#track(send().finally(release));
  }

  async #startInvoke(tasks: JobTask[]): Promise<void> {
    const release = await this.#invoke.acquire();
    const message: TaskMessage = { ...this.#envelope(), tasks };
    const call = async () => {
      this.#counts.invokeCalls++;
      let results: readonly TaskResult[];
      try {
        results = await this.#o.ports.invoke(message);
      } catch (error) {
        results = tasks.map((t) => ({
          id: t.id,
          ok: false,
          attempts: 1,
          error: `invoke failed: ${errorText(error)}`,
        }));
      }
      const byId = new Map(results.map((r) => [r.id, r]));
      for (const task of tasks) {
        const result = byId.get(task.id) ?? {
          id: task.id,
          ok: false,
          attempts: 1,
          error: 'no result from the worker',
        };
        if (result.cancelled) {
          // The run was cancelled or failed while this chunk waited: the task ends here, not a failure.
          this.#counts.cancelled++;
          continue;
        }
        this.#o.budget.record(result.ok);
        if (result.ok) this.#counts.invokeSucceeded++;
        else {
          this.#counts.invokeFailed++;
          // Invoke mode has no redelivery: every failure is dead-lettered, a task the worker had no time
          // to start with no delivery spent.
          const deliveries = result.unstarted ? 0 : 1;
          await this.#deadLetter(
            deadLetterTask(task, deliveries, result.error ?? `status ${result.status}`, result.status),
          );
        }
      }
    };
    this.#track(call().finally(release));
  }

  async #deadLetter(record: DeadLetterTask): Promise<void> {
    this.#o.hooks?.onDeadLetter?.(record);
    const wired = wireItem(record);
    const pack = this.#deadPacker.add(wired, Buffer.byteLength(wired.json));
    if (pack) await this.#packDeadLetters(pack.items);
  }

  async #packDeadLetters(records: WireItem<DeadLetterTask>[]): Promise<void> {
    const { jobId, runId } = this.#o;
    const envelope: DeadLetterEnvelope = {
      v: MESSAGE_VERSION,
      kind: MessageKinds.DEAD_LETTER,
      jobId,
      runId,
      source: 'orchestrator',
    };
    const packet = deadLetterPacket(`d${this.#deadSeq++}`, envelope, records);
    const batch = this.#deadBatcher.add(packet, packet.bytes);
    if (batch) await this.#sendDeadBatch(batch);
  }

  async #sendDeadBatch(batch: Group<DeadLetterPacket>): Promise<void> {
    const release = await this.#dlq.acquire();
    const send = async () => {
      const out = await sendIsolated(
        batch.items,
        (e) => this.#o.ports.sendDeadLetters(e),
        splitDeadLetterPacket,
      );
      for (const packet of out.sent) this.#counts.deadLettered += packet.items.length;
      // A record the DLQ refuses even alone: counted and reported by task id with SQS's error, never dropped.
      for (const { packet, error } of out.refused) {
        this.#counts.undeliverable += packet.items.length;
        for (const { value } of packet.items) this.#o.hooks?.onUndeliverable?.(value, error);
      }
    };
    this.#track(send().finally(release));
  }

  #track(promise: Promise<void>): void {
    // Lanes turn every failure into a dead letter and never reject: a rejection here is a bug, and the
    // segment rethrows it at the end rather than lose it.
    const tracked = promise.catch((error) => {
      this.#bug ??= error;
    });
    this.#pending.add(tracked);
    tracked.finally(() => this.#pending.delete(tracked));
  }

  /** Flushes every partial group and waits for all work, including the dead letters it produces. */
  async #drain(): Promise<void> {
    const pack = this.#taskPacker.flush();
    if (pack) await this.#addMessage(pack.items);
    const batch = this.#sendBatcher.flush();
    if (batch) await this.#sendBatch(batch);
    const chunk = this.#invokePacker.flush();
    if (chunk) await this.#startInvoke(chunk.items);
    await this.#settleAll();
    const dead = this.#deadPacker.flush();
    if (dead) await this.#packDeadLetters(dead.items);
    const deadBatch = this.#deadBatcher.flush();
    if (deadBatch) await this.#sendDeadBatch(deadBatch);
    await this.#settleAll();
    if (this.#bug !== undefined) throw this.#bug;
  }

  async #settleAll(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
