// The one config shared by the CDK stack, the Lambda handlers and the local runtime, so the code and the
// infrastructure never disagree. The CDK app reads it from cdk.json context (overridable with `-c`), hands
// it to the functions in one environment variable, and the local runtime builds the same resources from it.
// Checks across values live in lib/budget.ts (validateBudget).

export const IdempotencyModes = { TASK: 'task', MESSAGE: 'message', OFF: 'off' } as const;
export type IdempotencyMode = (typeof IdempotencyModes)[keyof typeof IdempotencyModes];

export interface DownstreamLimits {
  readonly maxConcurrency?: number;
  readonly maxRequestsPerSecond?: number;
  readonly adaptive?: boolean;
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
}

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
  /** Reserved concurrency of the worker: the hard cap, never below workerMaxConcurrency. */
  readonly workerReservedConcurrency: number;
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
  /** Milliseconds before the Lambda deadline at which the orchestrator stops starting work and continues itself. */
  readonly deadlineMarginMs: number;
  /** Days result objects are kept in the bucket. */
  readonly resultsRetentionDays: number;
  readonly logRetentionDays: number;
  readonly schedule: ScheduleConfig;
  /** Per-host limits of partners: host name to caps. */
  readonly downstream: Readonly<Record<string, DownstreamLimits>>;
  /** Hosts or CIDRs the destination guard lets through although private (loopback, RFC 1918, ...). */
  readonly allowHosts: readonly string[];
  /** Optional SNS topic ARN for alarms. */
  readonly alarmTopicArn?: string;
}

export const defaultConfig: FanoutConfig = {
  prefix: 'bounded-fanout',
  inlineConcurrency: 32,
  enqueueConcurrency: 8,
  invokeConcurrency: 4,
  tasksPerMessage: 25,
  workerMaxConcurrency: 10,
  workerReservedConcurrency: 10,
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
  deadlineMarginMs: 10_000,
  resultsRetentionDays: 30,
  logRetentionDays: 30,
  schedule: {
    expression: 'rate(5 minutes)',
    timeZone: 'UTC',
    enabled: false,
    flexibleWindowMinutes: 0,
    input: { manifest: 's3://REPLACE-WITH-BUCKET/manifests/job.ndjson' },
  },
  downstream: {},
  allowHosts: [],
};

/** Resource names, the same in the stack and the local runtime. */
export function resourceNames(config: Pick<FanoutConfig, 'prefix'>) {
  const p = config.prefix;
  return {
    queue: `${p}-work`,
    deadLetterQueue: `${p}-work-dlq`,
    idempotencyTable: `${p}-idempotency`,
    bucket: `${p}-data`,
    orchestrator: `${p}-orchestrator`,
    worker: `${p}-worker`,
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
  BUCKET: 'BOUNDED_FANOUT_BUCKET',
  WORKER_FUNCTION: 'BOUNDED_FANOUT_WORKER_FUNCTION',
  ORCHESTRATOR_FUNCTION: 'BOUNDED_FANOUT_ORCHESTRATOR_FUNCTION',
} as const;

/** Merges overrides over the defaults (one level deep for `schedule`). */
export function withDefaults(overrides: Partial<FanoutConfig> = {}): FanoutConfig {
  return {
    ...defaultConfig,
    ...overrides,
    schedule: { ...defaultConfig.schedule, ...(overrides.schedule ?? {}) },
  };
}

/** The config serialised for a function's environment. */
export function toEnvironment(config: FanoutConfig): string {
  return JSON.stringify(config);
}

/** Reads the config from the environment; defaults fill anything absent. */
export function fromEnvironment(env: NodeJS.ProcessEnv = process.env): FanoutConfig {
  const raw = env[EnvVars.CONFIG];
  if (!raw) return defaultConfig;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new SyntaxError(`${EnvVars.CONFIG} is not valid JSON: ${(error as Error).message}`);
  }
  return withDefaults(parsed as Partial<FanoutConfig>);
}
