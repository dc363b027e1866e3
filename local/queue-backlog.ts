// The local SQS pushes back. In AWS the queue holds any backlog on other machines; here the emulator holds
// it in this process's memory, and the orchestrator, free to enqueue a million tasks in seconds, would also
// take the CPU the workers need to drain them. So the local runtime holds the orchestrator's sends to the work
// queue while the queue already holds `maxMessages` (waiting, in flight or delayed), and lets them go as the
// workers drain it: memory stays bounded whatever the job's size, and enqueueing runs at the pace of the work.
// It is a middleware the local runtime adds to the orchestrator container's SQS client: the function's code is
// the one deployed, unchanged. A send held longer than `maxHoldMs` goes through anyway (a stuck worker must not
// stall the orchestrator past its deadline: the bound is then exceeded, never a task lost).
//
// The depth is read (GetQueueAttributes) only when it may matter: sends go on an estimate, the depth last read
// plus the messages this client has sent since, while that stays below the bound, and the queue is read again
// when the estimate reaches it (then every `pollMs` while a send is held). Deletes only lower the true depth,
// so the estimate errs on the full side; sends by other clients (the workers' retries) are not in it, as they
// were never held. A job far below the bound so reads the depth once, not once a send: a 20,000-task run made
// 80 reads, each an SDK call through the edge to the emulator on the thread that runs the tasks.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { assertInteger } from '../lib/errors.js';
import { type QueueDepth, queueDepth } from './queue-depth.js';

export interface QueueBacklogOptions {
  /** Reads the work queue's depth (the local runtime's own client, not the function's). */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Sends wait while the queue holds this many messages or more. */
  readonly maxMessages: number;
  /** A send is never held longer than this. */
  readonly maxHoldMs?: number;
  /** How often a held send looks at the depth again. */
  readonly pollMs?: number;
  /** Once aborted (the run is stopping and nothing drains the queue any more), no send is held. */
  readonly signal?: AbortSignal;
}

export interface BacklogStats {
  /** Sends that had to wait. */
  held: number;
  /** Sends let through after maxHoldMs with the queue still full. */
  overrun: number;
  /** The most messages a depth reading saw in the queue when a send arrived. */
  peakDepth: number;
}

const SENDS = new Set(['SendMessageCommand', 'SendMessageBatchCommand']);

export class QueueBacklog {
  readonly stats: BacklogStats = { held: 0, overrun: 0, peakDepth: 0 };
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #maxMessages: number;
  readonly #maxHoldMs: number;
  readonly #pollMs: number;
  readonly #signal: AbortSignal | undefined;
  // One depth reading shared by every send that asks within pollMs: a burst of sends costs one call.
  #reading: Promise<QueueDepth> | undefined;
  #readAt = 0;
  /** The depth last read plus the messages sent since; undefined before the first reading. */
  #estimate: number | undefined;

  constructor({ sqs, queueUrl, maxMessages, maxHoldMs = 30_000, pollMs = 50, signal }: QueueBacklogOptions) {
    this.#maxMessages = assertInteger('maxMessages', maxMessages, { min: 1 });
    this.#maxHoldMs = assertInteger('maxHoldMs', maxHoldMs, { min: 0 });
    this.#pollMs = assertInteger('pollMs', pollMs, { min: 1 });
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
    this.#signal = signal;
  }

  /** Adds the hold to `client`: its sends to the work queue wait while the queue is full. */
  attach(client: SQSClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { QueueUrl?: string };
        if (!SENDS.has(context.commandName ?? '') || input.QueueUrl !== this.#queueUrl) return next(args);
        await this.#room();
        if (this.#estimate !== undefined) this.#estimate += messagesIn(args.input);
        // The queue grows by this send: a reading taken before it is not read again.
        this.#reading = undefined;
        return next(args);
      },
      { step: 'initialize', name: 'boundedFanoutLocalBacklog' },
    );
  }

  /** Resolves when the queue holds fewer than maxMessages, or after maxHoldMs. */
  async #room(): Promise<void> {
    const deadline = Date.now() + this.#maxHoldMs;
    let held = false;
    for (;;) {
      if (this.#signal?.aborted) return;
      if (this.#estimate !== undefined && this.#estimate < this.#maxMessages) return;
      let depth: number;
      try {
        depth = (await this.#depth()).total;
      } catch {
        return; // no reading, no hold: the send goes as it would in AWS
      }
      this.#estimate = depth;
      if (depth > this.stats.peakDepth) this.stats.peakDepth = depth;
      if (depth < this.#maxMessages) return;
      if (!held) {
        held = true;
        this.stats.held++;
      }
      if (Date.now() >= deadline) {
        this.stats.overrun++;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
    }
  }

  #depth(): Promise<QueueDepth> {
    const now = Date.now();
    if (!this.#reading || now - this.#readAt >= this.#pollMs) {
      this.#readAt = now;
      this.#reading = queueDepth(this.#sqs, this.#queueUrl);
    }
    return this.#reading;
  }
}

/** How many messages a send carries: a batch's entries, else one. */
function messagesIn(input: unknown): number {
  const entries = (input as { Entries?: unknown }).Entries;
  return Array.isArray(entries) ? entries.length : 1;
}
