// A local SQS event source that behaves like Lambda's: pollers long-poll the queue for batches of up to
// `batchSize` (gathering more within the batching window), invoke the worker with an SQSEvent, and delete
// only what the worker did not report in `batchItemFailures`. Failed messages are left alone: they come
// back when their visibility timeout ends, and the queue's own redrive policy moves them to the dead-letter
// queue after maxReceiveCount receives. A thrown error, a timeout or a malformed batch response fails the
// whole batch, as in Lambda. At most `maxConcurrency` worker invocations run at once: a poller takes a
// permit before it receives, so no message is held invisible while it waits for a free worker.
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { assertInteger, InvalidArgumentError } from '../lib/errors.js';
import { Semaphore } from '../lib/semaphore.js';
import { failedIds } from './batch-response.js';
import type { LocalFunction } from './local-function.js';
import { toRecord } from './sqs-record.js';

export { failedIds } from './batch-response.js';

/** SQS returns at most 10 messages per ReceiveMessage and deletes at most 10 per DeleteMessageBatch. */
const SQS_BATCH_MAX = 10;

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly worker: LocalFunction;
  /** Records per invocation (Lambda: 1..10,000; above 10 the poller gathers several receives). */
  readonly batchSize: number;
  /** Worker invocations at once: the event source's maximum concurrency. */
  readonly maxConcurrency: number;
  /** How long to keep gathering a batch that is not yet full (after its first message). */
  readonly maxBatchingWindowMs?: number;
  /** Receive loops (Lambda starts five); never more than maxConcurrency. */
  readonly pollers?: number;
  /** Long-poll wait of each receive, in seconds; short so that stop() returns quickly. */
  readonly waitTimeSeconds?: number;
  readonly region?: string;
  /** Sees every batch as received, before the worker does (for tracing and tests). */
  readonly onReceive?: (records: readonly SQSRecord[]) => void;
  /** Fault injection: a succeeded message for which this returns true is not deleted (a lost delete). */
  readonly loseDelete?: (record: SQSRecord) => boolean;
  /** The messages of a batch the worker is done with (not reported failed), before they are deleted. */
  readonly onSettled?: (messageIds: readonly string[]) => void;
  /** Receives a message had before this queue held it (a resume's put-back), added to the count SQS gives. */
  readonly receivesBefore?: (messageId: string) => number;
}

type Hooks = 'onReceive' | 'loseDelete' | 'onSettled' | 'receivesBefore';

export interface PollerStats {
  receives: number;
  messagesReceived: number;
  invocations: number;
  invocationErrors: number;
  messagesDeleted: number;
  messagesFailed: number;
  deletesLost: number;
  deleteErrors: number;
  peakInvocations: number;
}

export class EventSourcePoller {
  readonly #options: Required<Omit<PollerOptions, Hooks>> & Pick<PollerOptions, Hooks>;
  readonly #slots: Semaphore;
  readonly #dispatches = new Set<Promise<void>>();
  #loops: Promise<void>[] = [];
  #running = false;
  #abandoned = false;
  // Aborts the long polls in flight when the poller stops, so stop() does not wait out WaitTimeSeconds.
  #polls = new AbortController();
  #stats: PollerStats = {
    receives: 0,
    messagesReceived: 0,
    invocations: 0,
    invocationErrors: 0,
    messagesDeleted: 0,
    messagesFailed: 0,
    deletesLost: 0,
    deleteErrors: 0,
    peakInvocations: 0,
  };
  #lastError: unknown;
  #invoking = 0;

  constructor(options: PollerOptions) {
    const {
      sqs,
      queueUrl,
      queueArn,
      worker,
      batchSize,
      maxConcurrency,
      maxBatchingWindowMs = 0,
      pollers = 5,
      waitTimeSeconds = 1,
      region = 'us-east-1',
      onReceive,
      loseDelete,
      onSettled,
      receivesBefore,
    } = options;
    if (!sqs || typeof sqs.send !== 'function') throw new InvalidArgumentError('sqs', sqs, 'an SQSClient');
    if (typeof queueUrl !== 'string' || !queueUrl)
      throw new InvalidArgumentError('queueUrl', queueUrl, 'a URL');
    if (!worker || typeof worker.invoke !== 'function') {
      throw new InvalidArgumentError('worker', worker, 'a LocalFunction');
    }
    assertInteger('batchSize', batchSize);
    if (batchSize > 10_000)
      throw new InvalidArgumentError('batchSize', batchSize, 'an integer from 1 to 10000');
    assertInteger('maxConcurrency', maxConcurrency);
    assertInteger('maxBatchingWindowMs', maxBatchingWindowMs, { min: 0 });
    assertInteger('pollers', pollers);
    assertInteger('waitTimeSeconds', waitTimeSeconds, { min: 0 });
    if (waitTimeSeconds > 20)
      throw new InvalidArgumentError('waitTimeSeconds', waitTimeSeconds, 'at most 20');
    this.#options = {
      sqs,
      queueUrl,
      queueArn,
      worker,
      batchSize,
      maxConcurrency,
      maxBatchingWindowMs,
      pollers: Math.min(pollers, maxConcurrency),
      waitTimeSeconds,
      region,
      onReceive,
      loseDelete,
      onSettled,
      receivesBefore,
    };
    this.#slots = new Semaphore(maxConcurrency);
  }

  /** The event source's maximum concurrency now. */
  get maxConcurrency(): number {
    return this.#slots.permits;
  }

  /** UpdateEventSourceMapping's MaximumConcurrency, live: lowered, no batch starts until fewer than it run. */
  setMaxConcurrency(maxConcurrency: number): void {
    this.#slots.setPermits(assertInteger('maxConcurrency', maxConcurrency));
  }

  get stats(): Readonly<PollerStats> {
    return { ...this.#stats };
  }

  /** Batches being handled now (the worker invocation and then its deletes). */
  get inFlight(): number {
    return this.#dispatches.size;
  }

  get running(): boolean {
    return this.#running;
  }

  /** The last error of a receive or delete call (the poller logs nothing itself and keeps polling). */
  get lastError(): unknown {
    return this.#lastError;
  }

  start(): this {
    if (this.#running) return this;
    this.#running = true;
    this.#polls = new AbortController();
    this.#loops = Array.from({ length: this.#options.pollers }, () => this.#poll());
    return this;
  }

  /**
   * Stops receiving and waits for the running invocations and their deletes. A receive still waiting is
   * abandoned: a message it took at that instant stays invisible until its visibility timeout ends and is
   * then delivered again, as after a lost receive in SQS (never lost).
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#polls.abort();
    // Let go of (abandon()): nothing of the running invocations is waited for.
    if (this.#abandoned) return;
    await Promise.all(this.#loops);
    while (this.#dispatches.size > 0) await Promise.allSettled([...this.#dispatches]);
  }

  /**
   * Stops receiving and lets go of the running invocations without waiting: what they return is ignored (no
   * delete, nothing settled), as when Lambda's sandbox is killed: their messages come back after the visibility
   * timeout. A run cut off by a second Ctrl-C ends this way.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#running = false;
    this.#polls.abort();
  }

  async #poll(): Promise<void> {
    while (this.#running) {
      const release = await this.#slots.acquire();
      let handedOff = false;
      try {
        const messages = await this.#receiveBatch();
        if (messages.length === 0) continue;
        handedOff = true;
        const dispatch = this.#dispatch(messages).finally(release);
        this.#dispatches.add(dispatch);
        dispatch.finally(() => this.#dispatches.delete(dispatch));
      } catch (error) {
        if (!this.#running) continue; // the receive was abandoned by stop()
        this.#lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        if (!handedOff) release();
      }
    }
  }

  async #receiveBatch(): Promise<Message[]> {
    const { batchSize, maxBatchingWindowMs, waitTimeSeconds } = this.#options;
    const batch = await this.#receive(Math.min(SQS_BATCH_MAX, batchSize), waitTimeSeconds);
    if (batch.length === 0) return batch;
    const windowEnd = Date.now() + maxBatchingWindowMs;
    while (batch.length < batchSize && Date.now() < windowEnd && this.#running) {
      const more = await this.#receive(Math.min(SQS_BATCH_MAX, batchSize - batch.length), 0);
      if (more.length === 0) break;
      batch.push(...more);
    }
    return batch;
  }

  async #receive(max: number, waitTimeSeconds: number): Promise<Message[]> {
    this.#stats.receives++;
    const { Messages = [] } = await this.#options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#options.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.#polls.signal },
    );
    this.#stats.messagesReceived += Messages.length;
    return Messages;
  }

  async #dispatch(messages: Message[]): Promise<void> {
    const { queueArn, region, receivesBefore } = this.#options;
    const records = messages.map((m) => toRecord(queueArn, region, m, receivesBefore?.(m.MessageId ?? '')));
    this.#options.onReceive?.(records);
    this.#stats.invocations++;
    // Counted here rather than from the semaphore, whose permits are also held by pollers waiting on a receive.
    this.#stats.peakInvocations = Math.max(this.#stats.peakInvocations, ++this.#invoking);
    let failed: Set<string>;
    try {
      const response = await this.#options.worker.invoke({ Records: records } satisfies SQSEvent);
      failed = failedIds(response, records);
    } catch {
      this.#stats.invocationErrors++;
      failed = new Set(records.map((r) => r.messageId));
    } finally {
      this.#invoking--;
    }
    if (this.#abandoned) return;
    this.#stats.messagesFailed += failed.size;
    const done = records.filter((r) => !failed.has(r.messageId));
    this.#options.onSettled?.(done.map((r) => r.messageId));
    const lost = done.filter((r) => this.#options.loseDelete?.(r) === true);
    this.#stats.deletesLost += lost.length;
    await this.#delete(done.filter((r) => !lost.includes(r)));
  }

  async #delete(records: SQSRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += SQS_BATCH_MAX) {
      const chunk = records.slice(i, i + SQS_BATCH_MAX);
      try {
        const { Failed = [] } = await this.#options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.#options.queueUrl,
            Entries: chunk.map((r, index) => ({ Id: String(index), ReceiptHandle: r.receiptHandle })),
          }),
        );
        // An entry that failed to delete comes back after its visibility timeout: redelivered, not lost.
        this.#stats.deleteErrors += Failed.length;
        this.#stats.messagesDeleted += chunk.length - Failed.length;
      } catch (error) {
        this.#lastError = error;
        this.#stats.deleteErrors += chunk.length;
      }
    }
  }
}
