// The one config shared by the CDK stack, the Lambda handlers and the local runtime, so the code and the
// infrastructure never disagree. The CDK app reads it from cdk.json context (overridable with `-c`), hands
// it to the functions in one environment variable, and the local runtime builds the same resources from it.
// Checks across values live in lib/budget/budget.ts (validateBudget).
import type { SecretsConfig } from './secrets-config.js';
import type { VpcConfig } from './vpc-config.js';

export type { VpcConfig } from './vpc-config.js';

export const IdempotencyModes = { TASK: 'task', MESSAGE: 'message', OFF: 'off' } as const;
export type IdempotencyMode = (typeof IdempotencyModes)[keyof typeof IdempotencyModes];

/**
 * A function's reserved concurrency: a whole number >= 1, or `"none"` for no reservation (the function runs
 * from the account's unreserved pool). Not 0: Lambda's reserved concurrency 0 throttles every invocation.
 */
export const NO_RESERVATION = 'none';
export type ReservedConcurrency = number | typeof NO_RESERVATION;

/** The reservation to give Lambda, undefined for `"none"` (the stack then sets none). */
export function reservationOf(value: ReservedConcurrency): number | undefined {
  return value === NO_RESERVATION ? undefined : value;
}

export interface DownstreamLimits {
  readonly maxConcurrency?: number;
  readonly maxRequestsPerSecond?: number;
  readonly adaptive?: boolean;
  /** Leases shared by the fleet instead of a fixed share each (issue 17). */
  readonly shared?: boolean;
}

export interface ScheduleConfig {
  /** EventBridge Scheduler expression: `rate(5 minutes)`, `cron(0 2 * * ? *)` or `at(...)`. */
  readonly expression: string;
  readonly timeZone: string;
  readonly enabled: boolean;
  /** Minutes of flexible time window; 0 turns it off. */
  readonly flexibleWindowMinutes: number;
  /** The event the schedule sends: an inline manifest or `{ manifest: "s3://bucket/key" }`. */
  readonly input: Record<string, unknown>;
  /**
   * What a run does when the job's previous run is still running (Kubernetes CronJob's concurrencyPolicy):
   * `forbid` records the new run `skipped`, `replace` cancels the old one, `allow` runs both.
   */
  readonly overlap: OverlapPolicy;
}

export const OverlapPolicies = { FORBID: 'forbid', REPLACE: 'replace', ALLOW: 'allow' } as const;
export type OverlapPolicy = (typeof OverlapPolicies)[keyof typeof OverlapPolicies];

export interface FanoutConfig {
  /** Prefix of every resource name, in the stack and in the local runtime. */
  readonly prefix: string;
  /** Tasks run in-process by the orchestrator at once. */
  readonly inlineConcurrency: number;
  /** SendMessageBatch calls in flight at once. */
  readonly enqueueConcurrency: number;
  /** Synchronous Invoke calls of the worker in flight at once. */
  readonly invokeConcurrency: number;
  /** Tasks packed into one SQS message. */
  readonly tasksPerMessage: number;
  /** SQS event source maximum concurrency of the worker (2..1000). */
  readonly workerMaxConcurrency: number;
  /**
   * Reserved concurrency of the worker: the hard cap, shared by the SQS poller and the orchestrator's direct
   * invokes, so never below workerMaxConcurrency + invokeConcurrency x orchestratorReservedConcurrency.
   * `"none"`: no reservation (an account whose quota leaves nothing to reserve); workerMaxConcurrency and the
   * direct invokes still bound the worker's invocations, from the account's shared pool.
   */
  readonly workerReservedConcurrency: ReservedConcurrency;
  /**
   * Reserved concurrency of the orchestrator: at most this many jobs (or continuations) run at once. A schedule
   * that fires while a job still runs waits in Lambda's asynchronous queue instead of doubling the load.
   * `"none"`: nothing caps the jobs at once; the budget counts one (UNRESERVED_ORCHESTRATORS) and says so.
   */
  readonly orchestratorReservedConcurrency: ReservedConcurrency;
  /** Tasks one worker invocation runs at once. */
  readonly perInvocationConcurrency: number;
  /** Sockets one process may open in all, and to one host. */
  readonly maxSockets: number;
  readonly maxSocketsPerHost: number;
  /** Sockets the AWS SDK clients of one process may open. */
  readonly awsMaxSockets: number;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly orchestratorTimeoutSeconds: number;
  readonly workerTimeoutSeconds: number;
  readonly orchestratorMemoryMb: number;
  readonly workerMemoryMb: number;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly idempotency: IdempotencyMode;
  /** Days an idempotency record lives. */
  readonly idempotencyTtlSeconds: number;
  /** Share of finished tasks that may fail before the job stops (Step Functions' ToleratedFailurePercentage). */
  readonly toleratedFailurePercent: number;
  /**
   * Seconds a paused run's message waits before it is looked at again: the worker puts it back as a new
   * message with this delay (so a pause, however long, never runs up SQS's receive count). 0..900.
   */
  readonly pauseRecheckSeconds: number;
  /** Milliseconds before the Lambda deadline at which the orchestrator stops starting work and continues itself. */
  readonly deadlineMarginMs: number;
  /**
   * How often a running orchestrator segment notes it is alive (functions/segment-heartbeat.ts). A copy of the
   * segment that finds another in progress runs it itself once that one has missed three: its attempt died
   * without an error (out of memory), and Lambda's retries would otherwise answer `duplicate` for good. At most
   * 15 s, so three missed beats pass well before Lambda's first retry, a minute on, which takes the segment over.
   */
  readonly segmentHeartbeatMs: number;
  /** Days result objects are kept in the bucket. */
  readonly resultsRetentionDays: number;
  /** Key prefixes in the data bucket: the orchestrator may read `manifestsPrefix*` and write `resultsPrefix*`. */
  readonly manifestsPrefix: string;
  readonly resultsPrefix: string;
  readonly logRetentionDays: number;
  readonly schedule: ScheduleConfig;
  /** Per-host limits of partners: host name to caps. */
  readonly downstream: Readonly<Record<string, DownstreamLimits>>;
  /** Hosts or CIDRs the destination guard lets through although private (loopback, RFC 1918, ...). */
  readonly allowHosts: readonly string[];
  /** Optional SNS topic ARN for alarms. */
  readonly alarmTopicArn?: string;
  readonly secrets: SecretsConfig;
  /**
   * Optional: run both functions in these subnets with these security groups (ids, imported without lookups).
   * They then reach SQS, S3, DynamoDB, EventBridge, Lambda and CloudWatch Logs only through a NAT gateway or
   * VPC endpoints, which the stack does not create (lib/vpc-config.ts says which).
   */
  readonly vpc?: VpcConfig;
}

export const defaultConfig: FanoutConfig = {
  prefix: 'bounded-fanout',
  inlineConcurrency: 32,
  enqueueConcurrency: 8,
  invokeConcurrency: 4,
  tasksPerMessage: 25,
  workerMaxConcurrency: 10,
  workerReservedConcurrency: 14,
  orchestratorReservedConcurrency: 1,
  perInvocationConcurrency: 16,
  maxSockets: 64,
  maxSocketsPerHost: 16,
  awsMaxSockets: 32,
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 3_000,
  orchestratorTimeoutSeconds: 300,
  workerTimeoutSeconds: 60,
  orchestratorMemoryMb: 512,
  workerMemoryMb: 512,
  visibilityTimeoutSeconds: 360,
  maxReceiveCount: 5,
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
  idempotency: IdempotencyModes.TASK,
  idempotencyTtlSeconds: 86_400,
  toleratedFailurePercent: 100,
  pauseRecheckSeconds: 10,
  deadlineMarginMs: 10_000,
  segmentHeartbeatMs: 15_000,
  resultsRetentionDays: 30,
  manifestsPrefix: 'manifests/',
  resultsPrefix: 'results/',
  logRetentionDays: 30,
  schedule: {
    expression: 'rate(5 minutes)',
    timeZone: 'UTC',
    enabled: false,
    flexibleWindowMinutes: 0,
    input: { manifest: 's3://REPLACE-WITH-BUCKET/manifests/job.ndjson' },
    overlap: OverlapPolicies.FORBID,
  },
  downstream: {},
  allowHosts: [],
  secrets: { secretsManagerPrefix: 'bounded-fanout/', ssmPrefix: '/bounded-fanout/', maxAgeSeconds: 300 },
};

/**
 * How long the dead-letter queues keep a message, in seconds: SQS's maximum (14 days), so dead letters wait
 * two weeks for someone to look at them or redrive them. The stack and the local runtime both read this.
 */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;

/** Resource names, the same in the stack and the local runtime. */
export function resourceNames(config: Pick<FanoutConfig, 'prefix'>) {
  const p = config.prefix;
  return {
    queue: `${p}-work`,
    deadLetterQueue: `${p}-work-dlq`,
    idempotencyTable: `${p}-idempotency`,
    /** The job ledger: one record per run (lib/ledger/). */
    jobTable: `${p}-jobs`,
    bucket: `${p}-data`,
    orchestrator: `${p}-orchestrator`,
    worker: `${p}-worker`,
    /** Events the orchestrator could not take: failed schedule deliveries and failed asynchronous invocations. */
    orchestratorDeadLetterQueue: `${p}-orchestrator-dlq`,
    schedule: `${p}-schedule`,
  } as const;
}

/**
 * Environment variables through which the stack (and the local runtime) wire the functions.
 * The whole config travels as JSON in CONFIG, so a limit is declared once.
 */
export const EnvVars = {
  CONFIG: 'BOUNDED_FANOUT_CONFIG',
  QUEUE_URL: 'BOUNDED_FANOUT_QUEUE_URL',
  DLQ_URL: 'BOUNDED_FANOUT_DLQ_URL',
  IDEMPOTENCY_TABLE: 'BOUNDED_FANOUT_IDEMPOTENCY_TABLE',
  /** The job ledger's table; unset, the functions keep no ledger (and say so once). */
  JOB_TABLE: 'BOUNDED_FANOUT_JOB_TABLE',
  BUCKET: 'BOUNDED_FANOUT_BUCKET',
  WORKER_FUNCTION: 'BOUNDED_FANOUT_WORKER_FUNCTION',
  ORCHESTRATOR_FUNCTION: 'BOUNDED_FANOUT_ORCHESTRATOR_FUNCTION',
  /** Comma-separated destination-guard entries tasks may never reach: the local runtime's own endpoints. */
  REFUSE_HOSTS: 'BOUNDED_FANOUT_REFUSE_HOSTS',
  SECRETS_FROM_ENV: 'BOUNDED_FANOUT_SECRETS_FROM_ENV', // "1" in local runs: `{ env }` header references allowed
} as const;

/** Merges overrides over the defaults (one level deep for `schedule` and `secrets`). */
export function withDefaults(overrides: Partial<FanoutConfig> = {}): FanoutConfig {
  return {
    ...defaultConfig,
    ...overrides,
    schedule: { ...defaultConfig.schedule, ...(overrides.schedule ?? {}) },
    secrets: { ...defaultConfig.secrets, ...(overrides.secrets ?? {}) },
  };
}

/** The config serialised for a function's environment (read back by lib/budget/config-environment.ts fromEnvironment). */
export function toEnvironment(config: FanoutConfig): string {
  return JSON.stringify(config);
}

/**
 * In the schedule's input, this bucket name stands for the stack's own data bucket (its name is generated at
 * deploy time): `{ "manifest": "s3://REPLACE-WITH-BUCKET/manifests/job.ndjson" }` reads from that bucket.
 */
export const BUCKET_PLACEHOLDER = 'REPLACE-WITH-BUCKET';

/**
 * The config as the functions receive it: without the schedule's input, which reaches the orchestrator as its
 * event (an inline manifest would not fit Lambda's 4 KB of environment).
 */
export function functionConfig(config: FanoutConfig): FanoutConfig {
  return { ...config, schedule: { ...config.schedule, input: {} } };
}

/** The idempotency table's partition key and TTL attribute: Powertools' DynamoDBPersistenceLayer defaults. */
export const idempotencyTableAttributes = { partitionKey: 'id', timeToLive: 'expiration' } as const;

/** The job ledger table's keys and TTL attribute (lib/ledger/ledger-keys.ts says what goes in them). */
export const jobTableAttributes = { partitionKey: 'pk', sortKey: 'sk', timeToLive: 'expiresAt' } as const;

/** Where the orchestrator keeps an inline job too large to continue in an event (read back by its next run). */
export const CONTINUATIONS_PREFIX = 'continuations/';
