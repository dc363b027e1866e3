// The run's task messages that no worker has finished yet. The local runtime sees every message the functions
// send to the work queue (a middleware on their SQS clients, as QueueBacklog's) and every message the poller
// settles (the worker's invocation returned and did not report it failed). What is sent and not settled is
// what a stopped run left undone: unstarted, delayed for a retry, or cut off in flight. The emulator's own
// queue cannot say as much (delayed and in-flight messages cannot be received), and neither can SQS.
// Memory: one body per open message, bounded by the queue's backlog (local/queue-backlog.ts).
import type { SQSClient } from '@aws-sdk/client-sqs';
import { parseTaskMessage } from '../lib/fanout/messages.js';
import type { JobTask } from '../lib/manifest/schema.js';

const SENDS = new Set(['SendMessageCommand', 'SendMessageBatchCommand']);

export interface SendInput {
  readonly QueueUrl?: string;
  readonly MessageBody?: string;
  readonly DelaySeconds?: number;
  readonly Entries?: ReadonlyArray<{
    readonly Id?: string;
    readonly MessageBody?: string;
    readonly DelaySeconds?: number;
  }>;
}

export interface SendOutput {
  readonly MessageId?: string;
  readonly Successful?: ReadonlyArray<{ readonly Id?: string; readonly MessageId?: string }>;
}

export interface OpenTask {
  readonly task: JobTask;
  /** The delivery attempt of the message it is in (above 1: a retry of a task that failed before). */
  readonly attempt: number;
}

/** Where the ledger's changes are kept on disk (`run --state DIR`: local/queue-journal.ts). */
export interface LedgerJournal {
  /** `visibleAt`: when a delayed message (a retry's backoff, a Retry-After) may be received, epoch ms. */
  sent(messageId: string, body: string, visibleAt?: number): void;
  settled(messageIds: readonly string[]): void;
}

export class TaskLedger {
  readonly #queueUrl: string;
  readonly #open = new Map<string, string>();
  // Settled before their send was seen. A container thread's send reaches this thread as a message, and the
  // poller here can receive that message and another container settle it first; its late send must not open
  // it again (nor journal it, or a resume would send a settled message twice). Only such races put an id here.
  readonly #settledFirst = new Set<string>();
  readonly #journal: LedgerJournal | undefined;
  #frozen = false;

  constructor(queueUrl: string, journal?: LedgerJournal) {
    this.#queueUrl = queueUrl;
    this.#journal = journal;
  }

  get queueUrl(): string {
    return this.#queueUrl;
  }

  /** A send to the work queue seen elsewhere (a container thread's client: local/thread-container.ts). */
  recordSend(input: SendInput, output: SendOutput): void {
    if (input.QueueUrl === this.#queueUrl) this.#sent(input, output);
  }

  /**
   * A `redrive`'s send through the runtime's endpoint (local/edge-redrive-sends.ts): another process, which names
   * the work queue by the host it reached the endpoint at, so the queue is matched by its name.
   */
  recordRedriveSend(input: SendInput, output: SendOutput): void {
    const name = (url?: string) => url?.slice(url.lastIndexOf('/') + 1);
    if (name(input.QueueUrl) === name(this.#queueUrl)) this.#sent(input, output);
  }

  /** Messages sent to the work queue and not settled. */
  get size(): number {
    return this.#open.size;
  }

  /** Records what `client` sends to the work queue once the send succeeded. */
  attach(client: SQSClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as SendInput;
        const result = await next(args);
        if (SENDS.has(context.commandName ?? '') && input.QueueUrl === this.#queueUrl)
          this.#sent(input, result.output as SendOutput);
        return result;
      },
      { step: 'initialize', name: 'boundedFanoutTaskLedger' },
    );
  }

  /** The poller's word that these messages are done with (their tasks succeeded, were retried or dead-lettered). */
  settled(messageIds: Iterable<string>): void {
    if (this.#frozen) return;
    const ids = [...messageIds];
    for (const id of ids) if (!this.#open.delete(id)) this.#settledFirst.add(id);
    this.#journal?.settled(ids);
  }

  /**
   * A message the runtime itself sent to the work queue: a resume's re-send of a killed run's open one, which
   * replaces the ids it was open under (closed in the journal once the new one is recorded).
   */
  resent(messageId: string, body: string, replaces: readonly string[] = [], delaySeconds = 0): void {
    this.#record(messageId, body, delaySeconds);
    if (replaces.length > 0) this.#journal?.settled(replaces);
  }

  /** Messages a killed process left open that a resume found done (local/settled-open.ts): closed, not sent. */
  closed(messageIds: readonly string[]): void {
    if (messageIds.length > 0) this.#journal?.settled(messageIds);
  }

  /**
   * No change from now on: a run cut off reads the ledger as it stood when the worker's counts were taken, so a
   * task is either counted by the worker's metrics or open here, never both nor neither.
   */
  freeze(): void {
    this.#frozen = true;
  }

  /** The tasks of the open messages of one run, each id once, leaving out `except` (dead-lettered ones). */
  *tasks(run: { jobId?: string; runId?: string }, except: ReadonlySet<string>): Generator<OpenTask> {
    const seen = new Set<string>();
    for (const body of this.#open.values()) {
      const parsed = parseTaskMessage(body);
      if (!parsed.ok) continue;
      const { jobId, runId, attempt, tasks } = parsed.value;
      if (
        (run.jobId !== undefined && run.jobId !== jobId) ||
        (run.runId !== undefined && run.runId !== runId)
      )
        continue;
      for (const task of tasks) {
        if (seen.has(task.id) || except.has(task.id)) continue;
        seen.add(task.id);
        yield { task, attempt };
      }
    }
  }

  #sent(input: SendInput, output: SendOutput): void {
    if (this.#frozen) return;
    if (input.MessageBody !== undefined && output.MessageId) {
      this.#record(output.MessageId, input.MessageBody, input.DelaySeconds);
      return;
    }
    const entries = new Map((input.Entries ?? []).map((e) => [e.Id, e]));
    for (const ok of output.Successful ?? []) {
      const entry = entries.get(ok.Id);
      if (ok.MessageId && entry?.MessageBody !== undefined)
        this.#record(ok.MessageId, entry.MessageBody, entry.DelaySeconds ?? input.DelaySeconds);
    }
  }

  #record(messageId: string, body: string, delaySeconds = 0): void {
    if (this.#settledFirst.delete(messageId)) return;
    this.#open.set(messageId, body);
    // A delayed message keeps its delay through a resume: a target that asked for time (Retry-After) gets it.
    if (delaySeconds > 0) this.#journal?.sent(messageId, body, Date.now() + delaySeconds * 1000);
    else this.#journal?.sent(messageId, body);
  }
}
