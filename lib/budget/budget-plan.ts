// The figures of the concurrency budget: worst-case concurrency and rate per downstream host, time to drain a
// job on each path, and the AWS cost per million queued tasks from the published prices in lib/budget/prices.ts.
// A simple model, stated where it is made: full batches, every request taking the plan's latency, no cold
// starts, no retries, and the free tiers left out.

import { type FanoutConfig, type IdempotencyMode, IdempotencyModes } from '../config.js';
import { defaultRetryOptions, type ResolvedRetryOptions } from '../http/retry.js';
import { type LeaseCost, leaseCosts } from './budget-leases.js';
import { type LedgerCost, ledgerCost } from './budget-ledger.js';
import type { concurrencyOf } from './budget-rules.js';
import type { BudgetProblem } from './budget-schema.js';
import type { HostPlan } from './host-plans.js';
import { type AwsPrices, awsPrices } from './prices.js';

const SQS_BATCH_ENTRIES = 10;
export const SQS_MAX_REQUEST_BYTES = 256 * 1024;
const MILLION = 1_000_000;

/** What the plan assumes besides the config. */
export interface PlanBudgetOptions {
  /** Tasks of the job whose drain time is estimated. */
  readonly tasks: number;
  /** Latency of one task's request, in ms. */
  readonly latencyMs: number;
  /** Size of one task in a message, for SQS's 64 KiB billing chunks and the 256 KiB message limit. */
  readonly bytesPerTask?: number;
  /** Latency of one SQS or Lambda API call, in ms (the orchestrator's enqueueing time). */
  readonly awsCallMs?: number;
}

export const defaultPlanOptions = {
  tasks: 1_000_000,
  latencyMs: 100,
  bytesPerTask: 256,
  awsCallMs: 20,
} as const satisfies Required<PlanBudgetOptions>;

export interface DrainPlan {
  /** Tasks in flight at once on this path. */
  readonly inFlight: number;
  readonly ms: number;
  readonly tasksPerSecond: number;
}

export interface CostPlan {
  /** The cost is per this many tasks, sent through the queue. */
  readonly tasks: number;
  readonly sqs: {
    readonly messages: number;
    readonly sendRequests: number;
    readonly receiveRequests: number;
    readonly deleteRequests: number;
    readonly usd: number;
  };
  readonly lambda: {
    readonly workerInvocations: number;
    readonly workerGbSeconds: number;
    readonly orchestratorInvocations: number;
    readonly orchestratorGbSeconds: number;
    readonly requestsUsd: number;
    readonly durationUsd: number;
    readonly usd: number;
  };
  /** DynamoDB requests of the configured idempotency mode: idempotencyWrites, one unit each. */
  readonly dynamodb: IdempotencyWrites &
    Readonly<Record<'writeUnits' | 'readUnits' | 'writeUsd' | 'readUsd' | 'usd', number>>;
  /** The job ledger (always on): its table's request units and the Run Finished events. */
  readonly ledger: LedgerCost;
  /**
   * The lease writes of each shared host, each as if every task went to it; the total counts the dearest one
   * (the million tasks go to one host, not to each).
   */
  readonly leases: readonly LeaseCost[];
  readonly usd: number;
  /** The total in each idempotency mode (the ledger included). */
  readonly usdByIdempotency: Readonly<Record<IdempotencyMode, number>>;
}

/**
 * The idempotency records of a job, each under 1 KB (a write unit a write, a read unit a consistent read): a
 * message's and a segment's take two writes (Powertools: in progress, then completed or deleted); a task's one, and one read.
 */
export interface IdempotencyWrites {
  /** Worker, 'task' mode only: one record per completed task (lib/aws/task-records.ts), every task here. */
  readonly taskWrites: number;
  /** Worker, 'task' mode only: every task's record is read once, before its message's tasks run. */
  readonly taskReads: number;
  /** Worker, 'task' and 'message' modes: one record per message, so no message is settled twice. */
  readonly messageWrites: number;
  /** Orchestrator, in every mode (the stack always wires the table): one record per segment. */
  readonly segmentWrites: number;
}

/** What each mode writes for `tasks` queued in `messages` messages by `segments` orchestrator invocations. */
export function idempotencyWrites(
  mode: IdempotencyMode,
  { tasks, messages, segments }: { tasks: number; messages: number; segments: number },
): IdempotencyWrites {
  return {
    taskWrites: mode === IdempotencyModes.TASK ? tasks : 0,
    taskReads: mode === IdempotencyModes.TASK ? tasks : 0,
    messageWrites: mode === IdempotencyModes.OFF ? 0 : 2 * messages,
    segmentWrites: 2 * segments,
  };
}

const totalWrites = (w: IdempotencyWrites) => w.taskWrites + w.messageWrites + w.segmentWrites;

export interface BudgetPlan {
  readonly config: FanoutConfig;
  readonly options: Required<PlanBudgetOptions>;
  readonly concurrency: ReturnType<typeof concurrencyOf>;
  readonly hosts: readonly HostPlan[];
  /** Time to drain the job's tasks on each path, when each request takes the plan's latency. */
  readonly drain: { readonly queue: DrainPlan; readonly inline: DrainPlan; readonly invoke: DrainPlan };
  /** One worker invocation's batch (batchSize messages of tasksPerMessage tasks). */
  readonly workerBatch: {
    readonly tasks: number;
    readonly ms: number;
    /**
     * Against a stalled host: every attempt runs to requestTimeoutMs, each task makes all its attempts with
     * the longest backoff between them (taskWorstMs).
     */
    readonly timeoutMs: number;
    readonly limitMs: number;
  };
  readonly cost: CostPlan;
  /** What validateBudget would refuse (the plan is still computed, so the table can show why). */
  readonly problems: readonly BudgetProblem[];
  readonly warnings: readonly string[];
  readonly prices: AwsPrices;
}

/** Tasks one worker invocation runs at once (spread over hosts; to one host, maxSocketsPerHost caps it). */
export const workerInFlight = (c: FanoutConfig) => Math.min(c.perInvocationConcurrency, c.maxSockets);
const waves = (tasks: number, inFlight: number) => Math.ceil(tasks / inFlight);

/**
 * One task's longest run in one delivery against a host that never answers: runHttpTask's maxAttempts
 * attempts of requestTimeoutMs each and the backoff ceilings between them (a server's Retry-After, up to
 * maxRetryAfterMs, can ask for longer; a stalled host sends none).
 */
export function taskWorstMs(c: FanoutConfig, retry: ResolvedRetryOptions = defaultRetryOptions): number {
  let backoffMs = 0;
  for (let n = 1; n < retry.maxAttempts; n++) backoffMs += Math.min(retry.maxMs, retry.baseMs * 2 ** (n - 1));
  return retry.maxAttempts * c.requestTimeoutMs + backoffMs;
}

export function workerBatch(c: FanoutConfig, latencyMs: number) {
  const tasks = c.batchSize * c.tasksPerMessage;
  const rounds = waves(tasks, workerInFlight(c));
  return {
    tasks,
    ms: rounds * latencyMs,
    timeoutMs: rounds * taskWorstMs(c),
    limitMs: c.workerTimeoutSeconds * 1000,
  };
}

/** How SQS carries `tasks`: messages, SendMessageBatch calls and the billed requests of each kind. */
function packing(c: FanoutConfig, tasks: number, bytesPerTask: number) {
  const chunk = awsPrices.sqs.billedChunkBytes;
  const messages = Math.ceil(tasks / c.tasksPerMessage);
  const messageBytes = c.tasksPerMessage * bytesPerTask;
  const perSend = Math.max(1, Math.min(SQS_BATCH_ENTRIES, Math.floor(SQS_MAX_REQUEST_BYTES / messageBytes)));
  const sendCalls = Math.ceil(messages / perSend);
  // The event source receives up to 10 messages a call and deletes a batch's successes in one call.
  const perReceive = Math.min(SQS_BATCH_ENTRIES, c.batchSize);
  const receiveCalls = Math.ceil(messages / perReceive);
  return {
    messages,
    messageBytes,
    sendCalls,
    sendRequests: sendCalls * Math.ceil((perSend * messageBytes) / chunk),
    receiveRequests: receiveCalls * Math.ceil((perReceive * messageBytes) / chunk),
    deleteRequests: receiveCalls,
  };
}

/** Time for the orchestrator to enqueue `tasks`: SendMessageBatch calls, enqueueConcurrency at once. */
function enqueueMs(c: FanoutConfig, tasks: number, o: Required<PlanBudgetOptions>): number {
  return waves(packing(c, tasks, o.bytesPerTask).sendCalls, c.enqueueConcurrency) * o.awsCallMs;
}

export function drainTimes(c: FanoutConfig, o: Required<PlanBudgetOptions>): BudgetPlan['drain'] {
  const drain = (inFlight: number, ms: number): DrainPlan => ({
    inFlight,
    ms,
    tasksPerSecond: (o.tasks * 1000) / ms,
  });
  const batch = workerBatch(c, o.latencyMs);
  const invocations = Math.ceil(o.tasks / batch.tasks);
  // Enqueueing and draining overlap: the slower of the two sets the pace.
  const queueMs = Math.max(enqueueMs(c, o.tasks, o), waves(invocations, c.workerMaxConcurrency) * batch.ms);
  const inline = Math.min(c.inlineConcurrency, c.maxSockets);
  // Invoke sends chunks of tasksPerMessage tasks, invokeConcurrency synchronous invocations at once.
  const chunkMs = waves(c.tasksPerMessage, workerInFlight(c)) * o.latencyMs;
  const invokeMs = waves(Math.ceil(o.tasks / c.tasksPerMessage), c.invokeConcurrency) * chunkMs;
  return {
    queue: drain(c.workerMaxConcurrency * workerInFlight(c), queueMs),
    inline: drain(inline, waves(o.tasks, inline) * o.latencyMs),
    invoke: drain(c.invokeConcurrency * Math.min(workerInFlight(c), c.tasksPerMessage), invokeMs),
  };
}

export function costPerMillion(
  c: FanoutConfig,
  o: Required<PlanBudgetOptions>,
  hosts: readonly HostPlan[] = [],
): CostPlan {
  const pack = packing(c, MILLION, o.bytesPerTask);
  const sqs = sqsCost(pack);
  const batch = workerBatch(c, o.latencyMs);
  const lambda = lambdaCost(c, o, pack.messages, batch);
  const { workerInvocations, orchestratorInvocations } = lambda;
  // Each orchestrator invocation runs one segment, and keeps one idempotency record for it.
  const job = { tasks: MILLION, messages: pack.messages, segments: orchestratorInvocations };
  const writes = (mode: IdempotencyMode) => totalWrites(idempotencyWrites(mode, job));
  const ledger = ledgerCost({
    runs: MILLION / o.tasks,
    messages: pack.messages,
    segments: orchestratorInvocations,
    workerBusySeconds: (workerInvocations * batch.ms) / 1000,
    orchestratorBusySeconds: (lambda.orchestratorGbSeconds * 1024) / c.orchestratorMemoryMb,
    heartbeatMs: c.segmentHeartbeatMs,
  });
  const leases = leaseCosts(c, hosts, workerInvocations, o.latencyMs);
  const leasesUsd = Math.max(0, ...leases.map((lease) => lease.usd));
  const base = sqs.usd + lambda.requestsUsd + lambda.durationUsd + ledger.usd + leasesUsd;
  const reads = (mode: IdempotencyMode) => idempotencyWrites(mode, job).taskReads;
  const { usdPerMillionWriteUnits, usdPerMillionReadUnits } = awsPrices.dynamodb;
  const writeUsd = (mode: IdempotencyMode) => (writes(mode) * usdPerMillionWriteUnits) / MILLION;
  const readUsd = (mode: IdempotencyMode) => (reads(mode) * usdPerMillionReadUnits) / MILLION;
  const dynamoUsd = (mode: IdempotencyMode) => writeUsd(mode) + readUsd(mode);
  const usdByIdempotency = Object.fromEntries(
    Object.values(IdempotencyModes).map((mode) => [mode, base + dynamoUsd(mode)]),
  ) as Record<IdempotencyMode, number>;
  return {
    tasks: MILLION,
    sqs,
    lambda,
    dynamodb: {
      ...idempotencyWrites(c.idempotency, job),
      writeUnits: writes(c.idempotency),
      readUnits: reads(c.idempotency),
      writeUsd: writeUsd(c.idempotency),
      readUsd: readUsd(c.idempotency),
      usd: dynamoUsd(c.idempotency),
    },
    ledger,
    leases,
    usd: usdByIdempotency[c.idempotency],
    usdByIdempotency,
  };
}

/** The queue's requests for a million tasks: each message sent, received and deleted. */
function sqsCost(pack: ReturnType<typeof packing>): CostPlan['sqs'] {
  const usd =
    ((pack.sendRequests + pack.receiveRequests + pack.deleteRequests) * awsPrices.sqs.usdPerMillionRequests) /
    MILLION;
  return {
    messages: pack.messages,
    sendRequests: pack.sendRequests,
    receiveRequests: pack.receiveRequests,
    deleteRequests: pack.deleteRequests,
    usd,
  };
}

/** The functions' requests and duration for a million tasks: the workers' batches and the orchestrator's enqueueing. */
function lambdaCost(
  c: FanoutConfig,
  o: Required<PlanBudgetOptions>,
  messages: number,
  batch: ReturnType<typeof workerBatch>,
): CostPlan['lambda'] {
  const { lambda } = awsPrices;
  const workerInvocations = Math.ceil(messages / c.batchSize);
  const workerGbSeconds = (workerInvocations * batch.ms * c.workerMemoryMb) / 1024 / 1000;
  const orchestratorMs = enqueueMs(c, MILLION, o);
  const orchestratorGbSeconds = (orchestratorMs * c.orchestratorMemoryMb) / 1024 / 1000;
  // The orchestrator continues itself each time it nears its deadline.
  const orchestratorInvocations = Math.ceil(
    orchestratorMs / (c.orchestratorTimeoutSeconds * 1000 - c.deadlineMarginMs),
  );
  const requestsUsd =
    ((workerInvocations + orchestratorInvocations) * lambda.usdPerMillionRequests) / MILLION;
  const durationUsd = (workerGbSeconds + orchestratorGbSeconds) * lambda.usdPerGbSecond;
  return {
    workerInvocations,
    workerGbSeconds,
    orchestratorInvocations,
    orchestratorGbSeconds,
    requestsUsd,
    durationUsd,
    usd: requestsUsd + durationUsd,
  };
}
