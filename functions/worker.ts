// The worker Lambda: SQS batches of packed task messages, direct synchronous Invokes with a chunk of tasks
// (the orchestrator's 'invoke' mode), and the orchestrator's on-failure records (orchestrator-failure.ts).
//
// Bounded concurrency inside a batch: every record of the batch is started at once (at most batchSize
// of them, a cheap promise each), and every task of every record takes a permit of ONE Semaphore of
// perInvocationConcurrency, through runBounded. So the HTTP calls in flight never exceed the limit across
// the whole batch, and a slow message does not leave permits idle the way a record-by-record loop would.
// Powertools' BatchProcessor then awaits the records' outcomes one by one (sequential mode: its parallel
// mode is an unbounded Promise.all over records' handlers) and turns failures into batchItemFailures.
//
// A record fails alone (batchItemFailures) when its body is not a valid task message, or when it could not
// be settled or its follow-ups sent: SQS then redelivers it; on its last receive its tasks are dead-lettered
// unrun, counted (last-receive.ts). Task failures never fail the record: lib/fanout/settle.ts retries or
// dead-letters failed tasks and hands on unstarted ones. The invocation's deadline (invocation-deadline.ts)
// keeps back time to settle every message: no attempt starts that would end after it.
//
// The ledger: the batch's messages of one run settle together (functions/batch-settles.ts), each under its
// own key, as one transaction of the store rather than one or two calls a message. A message is settled
// before its follow-ups are sent, and the follow-ups sent are its first settle's (worker-follow-ups.ts).
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { IdempotencyModes } from '../lib/config.js';
import { parseTaskMessage, parseWorkBody, type TaskMessage } from '../lib/fanout/messages.js';
import { errorText } from '../lib/fanout/segment.js';
import { type Settlement, settleMessage } from '../lib/fanout/settle.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';
import { redactText, taskSecrets } from '../lib/http/redact.js';
import { RunStatuses } from '../lib/ledger/run-record.js';
import { isLive } from '../lib/ledger/run-rules.js';
import type { JobTask } from '../lib/manifest/schema.js';
import { runBounded } from '../lib/run-bounded.js';
import { BatchSettles } from './batch-settles.js';
import { functionLogger } from './function-logger.js';
import { type IdempotencyOptions, IdempotencyUses, idempotencyOptions, runOnce } from './idempotency.js';
import { InvalidMessageError } from './invalid-message-error.js';
import { isLastReceive, lastReceiveSettlement, receiveCountOf } from './last-receive.js';
import { type FailureRecord, isFailureRecord, onOrchestratorFailure } from './orchestrator-failure.js';
import { cancelledSettlement, gatedRunner, heldSettlement, stoppedOutcome } from './run-gate.js';
import { type RunLedger, runLedgerOf, type SettledOnce } from './run-ledger.js';
import { type FunctionRuntime, lazyRuntime, requirePersistence } from './runtime.js';
import { answerCopy } from './segment-copies.js';
import { type PreparedMessage, TaskRunner } from './task-runner.js';
import {
  resendIfSettled,
  type SettleMember,
  settleThenFollowUp,
  workerFollowUps,
} from './worker-follow-ups.js';
import { type Invocation, startInvocation } from './worker-invocation.js';
import { countSettled, emptyStats, publishStats, type WorkerStats } from './worker-stats.js';

const logger = functionLogger('bounded-fanout-worker');
const metrics = new Metrics({ namespace: 'BoundedFanout', serviceName: 'worker' });
const processor = new BatchProcessor(EventType.SQS);

export interface InvokeResponse {
  readonly results: readonly TaskOutcome[];
}

type WorkerEvent = SQSEvent | TaskMessage | FailureRecord;

const isSqsEvent = (event: WorkerEvent): event is SQSEvent => Array.isArray((event as SQSEvent)?.Records);

export function createWorkerHandler(getRuntime: () => FunctionRuntime) {
  let core: Worker | undefined;
  return (event: WorkerEvent, context: Context) => {
    core ??= new Worker(getRuntime());
    if (isFailureRecord(event)) return core.orchestratorFailed(event, context);
    return isSqsEvent(event) ? core.batch(event, context) : core.invoke(event, context);
  };
}

export const handler = createWorkerHandler(lazyRuntime());

class Worker {
  readonly #rt: FunctionRuntime;
  readonly #tasks: TaskRunner;
  readonly #messageOptions: IdempotencyOptions | undefined;
  readonly #ledger: RunLedger | undefined;

  constructor(runtime: FunctionRuntime) {
    this.#rt = runtime;
    this.#tasks = new TaskRunner(runtime, (message, details) => logger.warn(message, details));
    this.#ledger = runLedgerOf(runtime, logger);
    // Per message in 'message' and 'task' modes: a message delivered twice is settled once (else its failed
    // tasks would be re-sent once per delivery) and never run twice at once, so 'task' mode needs no per-task
    // claim, only a record of each completed task that a redelivery after a crash skips (task-runner.ts).
    if (runtime.config.idempotency !== IdempotencyModes.OFF) {
      this.#messageOptions = idempotencyOptions(
        IdempotencyUses.MESSAGE,
        requirePersistence(runtime, IdempotencyUses.MESSAGE)!,
        runtime.config,
      );
    }
  }

  async batch(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    this.#register(context);
    const run = this.#invocation(context);
    const stats = emptyStats(event.Records.length);
    const ledger = this.#ledger;
    const settles = ledger && new BatchSettles((input) => ledger.settleOnce(input));
    // Every record joins its run's barrier before the first await of any: none settles before all joined.
    const outcomes = new Map(
      event.Records.map((record) => [record.messageId, this.#record(record, run, stats, settles)]),
    );
    const response = await processPartialResponse(
      event,
      async (record: SQSRecord) => {
        const outcome = await outcomes.get(record.messageId);
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
      processor,
      { context, processInParallel: false, throwOnFullBatchFailure: false },
    ).finally(() => run.close());
    stats.peakInFlight = run.slots.peakInFlight;
    publishStats(logger, metrics, stats, response.batchItemFailures.length);
    return response;
  }

  async invoke(payload: unknown, context: Context): Promise<InvokeResponse> {
    this.#register(context);
    const parsed = parseTaskMessage(payload);
    if (!parsed.ok) {
      logger.error('invalid invoke payload', { error: parsed.error });
      throw new InvalidMessageError(parsed.error);
    }
    const message = parsed.value;
    const run = this.#invocation(context);
    run.permits.follow(message.jobId, message.runId);
    const results = await runOnce(this.#messageOptions, message.key, () =>
      this.#runTasks(message, run),
    ).finally(() => run.close());
    logger.info('invoke done', {
      jobId: message.jobId,
      key: message.key,
      tasks: results.length,
      peakInFlight: run.slots.peakInFlight,
    });
    return { results };
  }

  /** The orchestrator failed for good: its run is broken (orchestrator-failure.ts). */
  orchestratorFailed(record: FailureRecord, context: Context) {
    this.#register(context);
    return onOrchestratorFailure(record, this.#rt, this.#ledger, logger);
  }

  /** One invocation's shared permits and deadline. */
  #invocation(context: Context): Invocation {
    const { config, taskOptions } = this.#rt;
    return startInvocation(config.perInvocationConcurrency, this.#ledger?.control, context, taskOptions);
  }

  #register(context: Context): void {
    logger.addContext(context);
    this.#tasks.registerContext(context);
    this.#messageOptions?.config.registerLambdaContext(context);
  }

  async #record(
    record: SQSRecord,
    run: Invocation,
    stats: WorkerStats,
    settles: BatchSettles<SettledOnce> | undefined,
  ): Promise<object | Error> {
    const parsed = parseWorkBody(record.body, record.messageId);
    if (!parsed.ok) {
      stats.invalidMessages++;
      logger.error('invalid message: it fails alone and reaches the DLQ after maxReceiveCount', {
        messageId: record.messageId,
        receiveCount: record.attributes?.ApproximateReceiveCount,
        error: parsed.error,
      });
      return new InvalidMessageError(`message ${record.messageId}: ${parsed.error}`);
    }
    const message = parsed.value;
    const member = settles?.join(message.jobId, message.runId);
    try {
      // A dead letter or hand-off of a segment copy runs only if that copy's settle counted (segment-copies.ts).
      const copy = await answerCopy(this.#rt, logger, this.#ledger, message, record.body, stats);
      if (copy) return copy;
      const receives = receiveCountOf(record.attributes);
      // The last receive runs even beside a delivery in progress (a copy SQS delivered twice): idempotency.ts.
      const last = isLastReceive(receives, this.#rt.config.maxReceiveCount);
      const settle = () => this.#settle(message, run, stats, member, receives);
      return await runOnce(this.#messageOptions, message.key, settle, last);
    } catch (error) {
      logger.error('message not settled: SQS will redeliver it', {
        messageId: record.messageId,
        key: message.key,
        // The logger redacts URLs and resolved secrets; the message's own header values and bodies only it knows.
        error: redactText(
          errorText(error),
          message.tasks.flatMap((task) => taskSecrets(task)),
        ),
      });
      return error instanceof Error ? error : new Error(String(error));
    } finally {
      // Settled, failed, held, or answered by idempotency: it never holds the batch's other settles.
      member?.leave();
    }
  }

  /** Runs the message's tasks, hands on what failed or did not start, and settles it in the ledger. */
  async #settle(
    message: TaskMessage,
    run: Invocation,
    stats: WorkerStats,
    member: SettleMember | undefined,
    receives: number,
  ): Promise<object> {
    const record = await this.#ledger?.control.view(message.jobId, message.runId);
    if (record?.status === RunStatuses.PAUSED) return this.#hold(message, member, stats);
    const { jobId, runId, tasks, redrive } = message;
    // In 'task' mode, the tasks an earlier delivery completed: a stopped run counts them succeeded, not cancelled.
    const prepared = await this.#tasks.forMessage(jobId, runId, tasks, redrive);
    // A redrive is the operator's ask to run a finished run's dead letters again: only a pause holds it.
    if (record && !redrive && (!isLive(record.status) || record.finishedAt !== undefined)) {
      const stopped = cancelledSettlement(message, prepared.completed);
      const { cancelled } = await this.#settleAndHandOn(message, stopped, member, stats);
      logger.info('run not live: tasks cancelled', { key: message.key, status: record.status, cancelled });
      return { cancelled };
    }
    // A message settled before (its delivery died after the settle, its own record gone with it or, in 'off'
    // mode, never kept) runs no task again, in any mode: it sends what that settle kept, its failed tasks run
    // only in their retry message. Asked when it may be so: a later receive (a resume's put-back of a message
    // the ledger settled is one: local/run-resume.ts), or ('task' mode) a copy of which some tasks completed.
    if (receives > 1 || prepared.completed.size > 0) {
      const before = await resendIfSettled(this.#rt, logger, this.#ledger, member, message);
      if (before) return before;
    }
    const last = lastReceiveSettlement(
      message,
      receives,
      this.#rt.config.maxReceiveCount,
      prepared.completed,
    );
    if (last) return this.#settleAndHandOn(message, last, member, stats);
    this.#ledger?.applyDownstream(record);
    // The run's perInvocationConcurrency override, followed while the invocation runs.
    run.permits.follow(message.jobId, message.runId);
    const outcomes = await this.#runTasks(message, run, prepared);
    const settlement = settleMessage(message, outcomes, this.#rt.config.maxReceiveCount);
    stats.tasks += message.tasks.length;
    return this.#settleAndHandOn(message, settlement, member, stats);
  }

  /**
   * A paused run's message goes back whole, settled as held (run-gate.ts heldSettlement), unless it was
   * settled before (its delivery died before its follow-ups): then what its first settle kept goes.
   */
  async #hold(message: TaskMessage, member: SettleMember | undefined, stats: WorkerStats): Promise<object> {
    const ports = workerFollowUps(this.#rt, logger, this.#ledger, member);
    const settlement = heldSettlement(message, this.#rt.config.pauseRecheckSeconds);
    const held = await settleThenFollowUp(ports, message, settlement);
    if (!held.applied) return { settledBefore: true, handedOn: held.handedOn, retried: held.retried };
    stats.paused += held.handedOn;
    return { paused: held.handedOn };
  }

  /** Settles the message, then sends the follow-ups of its first settle (functions/worker-follow-ups.ts). */
  async #settleAndHandOn(
    message: TaskMessage,
    settlement: Settlement,
    member: SettleMember | undefined,
    stats: WorkerStats,
  ) {
    const ports = workerFollowUps(this.#rt, logger, this.#ledger, member);
    return countSettled(stats, settlement, await settleThenFollowUp(ports, message, settlement));
  }

  async #runTasks(
    message: TaskMessage,
    { slots, deadline }: Invocation,
    prepared?: PreparedMessage,
  ): Promise<TaskOutcome[]> {
    const { jobId, runId, tasks } = message;
    const { run } = prepared ?? (await this.#tasks.forMessage(jobId, runId, tasks, message.redrive));
    // Checked once the task holds its permit, when it would start: a task that waited for a permit past
    // the deadline is not started. The run is asked again after any wait for its host (gatedRunner).
    const send = gatedRunner(this.#ledger, message, deadline.taskOptions, run);
    const runOne = async (task: JobTask) =>
      (await stoppedOutcome(this.#ledger, message, task)) ?? deadline.tooLate(task) ?? send(task);
    const settled = await runBounded(tasks, runOne, { concurrency: slots });
    return settled.map((s, i) =>
      s.status === 'fulfilled'
        ? s.value
        : { id: tasks[i].id, ok: false, attempts: 0, error: errorText(s.reason) },
    );
  }
}
