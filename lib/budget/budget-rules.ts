// The checks of the concurrency budget across values: each reads a few values (valid on their own) and names the
// one to change, with the numbers that make it wrong.

import {
  type FanoutConfig,
  functionConfig,
  IdempotencyModes,
  reservationOf,
  toEnvironment,
} from '../config.js';
import { settleReserveMs, taskWindowMs } from '../fanout/settle-reserve.js';
import { fleetProcesses } from '../fleet.js';
import {
  type BudgetProblem,
  CONFIG_ENVIRONMENT_MAX_BYTES,
  pathKey,
  problem,
  SCHEDULE_INPUT_MAX_BYTES,
} from './budget-schema.js';

/** The quantities the rules and the plan share, from a config whose values are each valid. */
export function concurrencyOf(config: FanoutConfig) {
  const fleet = fleetProcesses(config);
  const { workers, orchestrators } = fleet;
  const workerSocketsPerHost = Math.min(
    config.perInvocationConcurrency,
    config.maxSocketsPerHost,
    config.maxSockets,
  );
  const orchestratorSocketsPerHost = Math.min(
    config.inlineConcurrency,
    config.maxSocketsPerHost,
    config.maxSockets,
  );
  return {
    ...fleet,
    workerSocketsPerHost,
    orchestratorSocketsPerHost,
    /** The most concurrent connections one downstream host can see from the whole fleet. */
    perHost: workers * workerSocketsPerHost + orchestrators * orchestratorSocketsPerHost,
  };
}

/** The fields fleetProcesses reads: a rule that counts the fleet runs only when they are valid. */
const FLEET_FIELDS = [
  'workerReservedConcurrency',
  'workerMaxConcurrency',
  'invokeConcurrency',
  'orchestratorReservedConcurrency',
] as const;

type Rule = (config: FanoutConfig) => BudgetProblem | BudgetProblem[] | undefined;

/** Checks across values, each listing the fields it reads so it runs only when those are valid. */
const rules: ReadonlyArray<{ readonly reads: readonly string[]; readonly check: Rule }> = [
  {
    reads: FLEET_FIELDS,
    check: (c) => {
      const { orchestrators } = fleetProcesses(c);
      const workerReserved = reservationOf(c.workerReservedConcurrency);
      const orchestratorsReserved = reservationOf(c.orchestratorReservedConcurrency);
      const needed = c.workerMaxConcurrency + c.invokeConcurrency * orchestrators;
      if (workerReserved === undefined || workerReserved >= needed) return;
      const counted =
        orchestratorsReserved === undefined
          ? 'orchestrators (not reserved: counted as 1)'
          : 'orchestratorReservedConcurrency';
      return problem(
        'workerReservedConcurrency',
        c.workerReservedConcurrency,
        `is below workerMaxConcurrency + invokeConcurrency x ${counted} = ${c.workerMaxConcurrency} + ${c.invokeConcurrency} x ${orchestrators} = ${needed}: the poller would be throttled, and throttled messages count toward maxReceiveCount and reach the dead-letter queue unprocessed`,
      );
    },
  },
  {
    reads: ['visibilityTimeoutSeconds', 'workerTimeoutSeconds'],
    check: (c) =>
      c.visibilityTimeoutSeconds >= 6 * c.workerTimeoutSeconds
        ? undefined
        : problem(
            'visibilityTimeoutSeconds',
            c.visibilityTimeoutSeconds,
            `is below 6 x workerTimeoutSeconds = 6 x ${c.workerTimeoutSeconds} = ${6 * c.workerTimeoutSeconds} (AWS's advice for an SQS event source): a message would be received again while its batch still runs`,
          ),
  },
  {
    reads: ['maxSocketsPerHost', 'maxSockets'],
    check: (c) =>
      c.maxSocketsPerHost <= c.maxSockets
        ? undefined
        : problem('maxSocketsPerHost', c.maxSocketsPerHost, `is above maxSockets (${c.maxSockets})`),
  },
  {
    reads: ['connectTimeoutMs', 'requestTimeoutMs'],
    check: (c) =>
      c.connectTimeoutMs <= c.requestTimeoutMs
        ? undefined
        : problem(
            'connectTimeoutMs',
            c.connectTimeoutMs,
            `is above requestTimeoutMs (${c.requestTimeoutMs})`,
          ),
  },
  {
    reads: ['requestTimeoutMs', 'workerTimeoutSeconds'],
    check: (c) => {
      // The worker starts an attempt only if it ends before the time it keeps back to settle.
      const windowMs = taskWindowMs(c.workerTimeoutSeconds * 1000);
      return c.requestTimeoutMs < windowMs
        ? undefined
        : problem(
            'requestTimeoutMs',
            c.requestTimeoutMs,
            `is not below the ${windowMs} ms a worker invocation has for tasks (workerTimeoutSeconds ${c.workerTimeoutSeconds} s less ${settleReserveMs(c.workerTimeoutSeconds * 1000)} ms kept to settle): the worker could start no task`,
          );
    },
  },
  {
    reads: ['deadlineMarginMs', 'requestTimeoutMs', 'orchestratorTimeoutSeconds'],
    check: (c) => {
      if (c.deadlineMarginMs >= c.orchestratorTimeoutSeconds * 1000) {
        return problem(
          'deadlineMarginMs',
          c.deadlineMarginMs,
          `is not below orchestratorTimeoutSeconds (${c.orchestratorTimeoutSeconds} s): the orchestrator would never start work`,
        );
      }
      if (c.deadlineMarginMs < c.requestTimeoutMs) {
        return problem(
          'deadlineMarginMs',
          c.deadlineMarginMs,
          `is below requestTimeoutMs (${c.requestTimeoutMs}): a request started just before the margin could outlive the orchestrator`,
        );
      }
    },
  },
  {
    reads: ['idempotency', 'idempotencyTtlSeconds', 'visibilityTimeoutSeconds', 'maxReceiveCount'],
    check: (c) => {
      const window = c.visibilityTimeoutSeconds * c.maxReceiveCount;
      if (c.idempotency === IdempotencyModes.OFF || c.idempotencyTtlSeconds >= window) return;
      return problem(
        'idempotencyTtlSeconds',
        c.idempotencyTtlSeconds,
        `is below visibilityTimeoutSeconds x maxReceiveCount = ${c.visibilityTimeoutSeconds} x ${c.maxReceiveCount} = ${window}: a record could expire before the last redelivery of its message`,
      );
    },
  },
  {
    reads: ['batchSize', 'maxBatchingWindowSeconds'],
    check: (c) =>
      c.batchSize <= 10 || c.maxBatchingWindowSeconds >= 1
        ? undefined
        : problem(
            'batchSize',
            c.batchSize,
            'is above 10 with maxBatchingWindowSeconds 0: the SQS event source needs a batching window of at least 1 s for batches above 10',
          ),
  },
  {
    reads: ['awsMaxSockets', 'enqueueConcurrency', 'invokeConcurrency'],
    check: (c) => {
      const needed = c.enqueueConcurrency + c.invokeConcurrency + 1;
      if (c.awsMaxSockets >= needed) return;
      return problem(
        'awsMaxSockets',
        c.awsMaxSockets,
        `is below enqueueConcurrency + invokeConcurrency + 1 (the manifest stream) = ${needed}: the declared concurrency could not get its sockets`,
      );
    },
  },
  {
    reads: ['manifestsPrefix', 'resultsPrefix'],
    check: (c) =>
      c.manifestsPrefix.startsWith(c.resultsPrefix) || c.resultsPrefix.startsWith(c.manifestsPrefix)
        ? problem(
            'resultsPrefix',
            c.resultsPrefix,
            `overlaps manifestsPrefix (${JSON.stringify(c.manifestsPrefix)}): the orchestrator could overwrite manifests`,
          )
        : undefined,
  },
  {
    reads: ['*'],
    check: (c) => {
      const bytes = Buffer.byteLength(toEnvironment(functionConfig(c)));
      if (bytes <= CONFIG_ENVIRONMENT_MAX_BYTES) return;
      return problem(
        'config',
        `${bytes} bytes`,
        `is above ${CONFIG_ENVIRONMENT_MAX_BYTES} bytes as JSON: it would not fit Lambda's 4 KB environment (shorten downstream or allowHosts)`,
      );
    },
  },
  {
    reads: ['schedule'],
    check: (c) => {
      const bytes = Buffer.byteLength(JSON.stringify(c.schedule.input));
      if (bytes <= SCHEDULE_INPUT_MAX_BYTES) return;
      return problem(
        'schedule.input',
        `${bytes} bytes`,
        `is above ${SCHEDULE_INPUT_MAX_BYTES} bytes, Lambda's limit for an asynchronous event: put the manifest in S3 and point at it`,
      );
    },
  },
  {
    // Reads each entry only when its maxConcurrency is a valid number, so that a bad host name elsewhere in the
    // map does not hide this check for the good ones.
    reads: FLEET_FIELDS,
    check: (c) => {
      const entries =
        typeof c.downstream === 'object' && c.downstream !== null ? Object.entries(c.downstream) : [];
      return entries.flatMap(([host, limits]) => {
        if (!Number.isInteger(limits?.maxConcurrency)) return [];
        const path = `downstream${pathKey(host)}.maxConcurrency`;
        return (
          hostShareProblem(
            c,
            host,
            { maxConcurrency: limits.maxConcurrency!, shared: limits.shared },
            path,
          ) ?? []
        );
      });
    },
  },
];

/** The problems across values, skipping each rule that reads a value with a problem of its own. */
export function crossProblems(config: FanoutConfig, fields: readonly BudgetProblem[]): BudgetProblem[] {
  const bad = new Set(fields.map(({ path }) => path.split(/[.[]/)[0]));
  const problems: BudgetProblem[] = [];
  for (const rule of rules) {
    const blocked = rule.reads.includes('*') ? bad.size > 0 : rule.reads.some((field) => bad.has(field));
    if (!blocked) problems.push(...[rule.check(config) ?? []].flat());
  }
  return problems;
}

/**
 * Each process holds a host to its share of maxConcurrency (lib/downstream), rounded down but never below 1
 * request, so the fleet stays within `maxConcurrency` exactly when it has no more processes than that: a problem
 * at `path` when it has more, unless the host is `shared` (held by leases to its cap: shared-host-bound.ts). The
 * budget's rule on a declared value, and `limits`' on a run's override (lib/ledger/run-limits.ts).
 */
export function hostShareProblem(
  config: FanoutConfig,
  host: string,
  { maxConcurrency, shared }: { readonly maxConcurrency: number; readonly shared?: boolean },
  path: string,
): BudgetProblem | undefined {
  const { workers, orchestrators, processes } = fleetProcesses(config);
  if (processes <= maxConcurrency || shared === true) return undefined;
  const formula = `${processes} processes (${workers} workers + ${orchestrators} orchestrator${orchestrators === 1 ? '' : 's'}) x 1 request each`;
  return problem(
    path,
    maxConcurrency,
    `is below ${formula} = ${processes} concurrent requests to ${host}: each process's share (${maxConcurrency} / ${processes}) is raised to the minimum of 1; lower workerMaxConcurrency, invokeConcurrency or orchestratorReservedConcurrency, or raise maxConcurrency to ${processes}, or declare it shared: true (leases across the fleet)`,
  );
}
