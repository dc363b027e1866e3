// Each value of the concurrency budget on its own: a zod schema whose bounds are AWS's own where AWS has one,
// and the problem type every check reports (the value's path, the value, what is wrong with it).
import { z } from 'zod';
import type { FanoutConfig } from '../config.js';
import { IdempotencyModes, NO_RESERVATION, OverlapPolicies } from '../config.js';
import { BoundedFanoutError, describe, ErrorCodes } from '../errors.js';
import { scheduleExpressionProblem } from '../schedule-expression.js';
import { secretsConfigSchema } from '../secrets-config.js';
import { vpcSchema } from '../vpc-config.js';

/** One problem of a config: the path of the value, the value, and what is wrong with it. */
export interface BudgetProblem {
  readonly path: string;
  readonly value: unknown;
  readonly message: string;
}

export const BUDGET_ERROR_CODE = ErrorCodes.INVALID_BUDGET;

export function formatProblem({ path, value, message }: BudgetProblem): string {
  return `${path}: ${describe(value)} ${message}`;
}

/** Every problem of a config at once, one per line of the message. */
export class BudgetError extends BoundedFanoutError {
  readonly problems: readonly BudgetProblem[];
  constructor(problems: readonly BudgetProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((problem) => `  - ${formatProblem(problem)}`).join('\n');
    super(`Invalid concurrency budget (${count}):\n${lines}`, BUDGET_ERROR_CODE);
    this.name = 'BudgetError';
    this.problems = problems;
  }
}

/** CloudWatch Logs accepts only these retention periods, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
/** Lambda's environment holds 4 KB in all; the config gets this much, the resource wiring the rest. */
export const CONFIG_ENVIRONMENT_MAX_BYTES = 3072;
/** Lambda's limit on an asynchronous invocation's payload, which the schedule's input is. */
export const SCHEDULE_INPUT_MAX_BYTES = 256 * 1024;

const int = (min: number, max?: number, why = '') => {
  const base = z
    .number({ error: 'is not a number' })
    .int('is not an integer')
    .min(min, `is below ${min}${why}`);
  return max === undefined ? base : base.max(max, `is above ${max}${why}`);
};
const text = () => z.string({ error: 'is not a string' });
const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};
const prefix = () =>
  text().regex(/^[^/].*\/$/, 'is not a key prefix ending in "/" (and not starting with one)');

/** A reserved concurrency: a whole number >= 1 or "none"; 0 is Lambda's "throttle everything", never meant here. */
const reserved = () =>
  z.unknown().check((ctx) => {
    const value = ctx.value;
    if (value === NO_RESERVATION || (Number.isInteger(value) && (value as number) >= 1)) return;
    const message =
      value === 0
        ? `is not allowed: Lambda's reserved concurrency 0 throttles every invocation; "${NO_RESERVATION}" leaves the function unreserved`
        : `is not a whole number >= 1 or "${NO_RESERVATION}" (no reservation)`;
    ctx.issues.push({ code: 'custom', message, input: value });
  });

const downstreamLimits = z.strictObject(
  {
    maxConcurrency: int(1).optional(),
    maxRequestsPerSecond: z
      .number({ error: 'is not a number' })
      .positive('is not above 0')
      .finite('is not finite')
      .optional(),
    adaptive: z.boolean({ error: 'is not a boolean' }).optional(),
    shared: z.boolean({ error: 'is not a boolean' }).optional(),
  },
  { error: 'is not an object' },
);

/** Each value on its own. Bounds are AWS's own where AWS has one. */
const configSchema = z.object({
  prefix: text().regex(/^[a-z][a-z0-9-]{0,39}$/, 'is not 1-40 lowercase letters, digits or hyphens'),
  inlineConcurrency: int(1),
  enqueueConcurrency: int(1),
  invokeConcurrency: int(1),
  tasksPerMessage: int(1),
  workerMaxConcurrency: int(2, 1000, ' (the SQS event source takes 2..1000)'),
  workerReservedConcurrency: reserved(),
  orchestratorReservedConcurrency: reserved(),
  perInvocationConcurrency: int(1),
  maxSockets: int(1),
  maxSocketsPerHost: int(1),
  awsMaxSockets: int(1),
  requestTimeoutMs: int(1),
  connectTimeoutMs: int(1),
  orchestratorTimeoutSeconds: int(1, 900, ' (Lambda allows 1..900)'),
  workerTimeoutSeconds: int(1, 900, ' (Lambda allows 1..900)'),
  orchestratorMemoryMb: int(128, 10240, ' (Lambda allows 128..10240)'),
  workerMemoryMb: int(128, 10240, ' (Lambda allows 128..10240)'),
  visibilityTimeoutSeconds: int(0, 43200, ' (SQS allows 0..43200)'),
  maxReceiveCount: int(1, 1000, ' (SQS allows 1..1000)'),
  batchSize: int(1, 10000, ' (the SQS event source takes 1..10000)'),
  maxBatchingWindowSeconds: int(0, 300, ' (the SQS event source takes 0..300)'),
  idempotency: z.enum(Object.values(IdempotencyModes), {
    error: `is not one of ${Object.values(IdempotencyModes).join(', ')}`,
  }),
  idempotencyTtlSeconds: int(1),
  toleratedFailurePercent: z
    .number({ error: 'is not a number' })
    .min(0, 'is below 0')
    .max(100, 'is above 100'),
  pauseRecheckSeconds: int(0, 900, ' (SQS DelaySeconds takes 0..900)'),
  deadlineMarginMs: int(0),
  segmentHeartbeatMs: int(
    100,
    15_000,
    ' (three missed beats must pass well before Lambda retries, a minute on)',
  ),
  resultsRetentionDays: int(1),
  manifestsPrefix: prefix(),
  resultsPrefix: prefix(),
  logRetentionDays: z
    .number({ error: 'is not a number' })
    .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
      message: `is not a CloudWatch Logs retention (${LOG_RETENTION_DAYS.join(', ')})`,
    }),
  schedule: z.object(
    {
      expression: text().check((ctx) => {
        const message = scheduleExpressionProblem(ctx.value);
        if (message) ctx.issues.push({ code: 'custom', message, input: ctx.value });
      }),
      timeZone: text().refine(isTimeZone, 'is not an IANA time zone'),
      enabled: z.boolean({ error: 'is not a boolean' }),
      flexibleWindowMinutes: int(0, 1440, ' (EventBridge Scheduler takes 0..1440)'),
      input: z.record(z.string(), z.unknown(), { error: 'is not an object' }),
      overlap: z.enum(Object.values(OverlapPolicies), {
        error: `is not one of ${Object.values(OverlapPolicies).join(', ')}`,
      }),
    },
    { error: 'is not an object' },
  ),
  downstream: z.record(
    text().regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i, 'is not a host name (host or host:port)'),
    downstreamLimits,
    { error: 'is not an object' },
  ),
  allowHosts: z.array(text().min(1, 'is empty'), { error: 'is not an array' }),
  secrets: secretsConfigSchema,
  alarmTopicArn: text()
    .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/, 'is not an SNS topic ARN')
    .optional(),
  vpc: vpcSchema.optional(),
});

export function problem(path: string, value: unknown, message: string): BudgetProblem {
  return { path, value, message };
}

/** One step of a path as JavaScript would write it: `.name`, `[0]` or `["api.example.com"]`. */
export function pathKey(part: PropertyKey): string {
  if (typeof part === 'number') return `[${part}]`;
  const name = String(part);
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

function pathOf(parts: readonly PropertyKey[]): string {
  return parts.map(pathKey).join('').replace(/^\./, '') || 'config';
}

function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_key') return issue.issues[0]?.message ?? issue.message;
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input'))
    return `is not ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}`;
  return issue.message;
}

/** The problems of each value on its own. */
export function fieldProblems(config: FanoutConfig): BudgetProblem[] {
  const parsed = configSchema.safeParse(config, { reportInput: true });
  return (parsed.error?.issues ?? []).map((issue) =>
    problem(pathOf(issue.path), issue.input, messageOf(issue)),
  );
}
