// What a handler needs for the life of its container, built once from the environment: the config (all
// limits, from BOUNDED_FANOUT_CONFIG, required and checked by lib/budget/config-environment.ts), the wiring (queue URLs, table, bucket, function names), the AWS
// clients on bounded sockets, the bounded HTTP agents and the downstream policy (this container's share of
// each partner host's limits). AWS endpoints come from the standard AWS_ENDPOINT_URL* variables, read by
// the SDK itself, so the same code runs on AWS, LocalStack and the local emulators.
import { randomUUID } from 'node:crypto';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { type AwsClients, createAwsClients } from '../lib/aws/clients.js';
import { JobLedgerTable } from '../lib/aws/job-ledger-table.js';
import { LeaseTable } from '../lib/aws/lease-table.js';
import { RateSlices } from '../lib/aws/rate-slices.js';
import { createSecretResolver } from '../lib/aws/secret-resolver.js';
import { fromEnvironment } from '../lib/budget/config-environment.js';
import { EnvVars, type FanoutConfig, IdempotencyModes } from '../lib/config.js';
import { createDownstream, type DownstreamPolicy } from '../lib/downstream/downstream-policy.js';
import type { FleetLeaseWiring } from '../lib/downstream/fleet-limits.js';
import { fleetShare } from '../lib/downstream/host-limits.js';
import { createHttpAgents, type HttpAgents } from '../lib/http/agents.js';
import type { RunHttpTaskOptions } from '../lib/http/run-http-task.js';
import type { SecretResolver } from '../lib/http/secret-ref.js';
import type { JobLedger } from '../lib/ledger/job-ledger.js';
import { leaseEvents } from './lease-events.js';

export interface Wiring {
  readonly queueUrl?: string;
  readonly dlqUrl?: string;
  readonly idempotencyTable?: string;
  readonly jobTable?: string;
  readonly bucket?: string;
  readonly workerFunction?: string;
  readonly orchestratorFunction?: string;
}

export interface FunctionRuntime {
  readonly config: FanoutConfig;
  readonly wiring: Wiring;
  readonly aws: AwsClients;
  readonly http: HttpAgents;
  /**
   * runHttpTask's options for this container, one object for its life: runHttpTask resolves and caches its
   * options per object, so a fresh object per task would validate them and build a redactor every time.
   */
  readonly taskOptions: RunHttpTaskOptions;
  /**
   * The limits of the hosts `config.downstream` names, cut to this container's share (fleetShare: every
   * worker instance and orchestrator of the fleet holds its own); undefined when it names none.
   */
  readonly downstream: DownstreamPolicy | undefined;
  /** Resolves tasks' secret references (lib/aws/secret-resolver.ts); none: a reference fails its task. */
  readonly secrets?: SecretResolver;
  /** The job ledger on the stack's job table; undefined when no table is wired (runs are then unrecorded). */
  readonly ledger: JobLedger | undefined;
  /**
   * The idempotency store of one use (`task`, `message`, `segment`), when a table is wired. Powertools
   * configures a persistence layer once, so each use gets its own instance on the shared client.
   */
  persistence(use: string): DynamoDBPersistenceLayer | undefined;
  destroy(): Promise<void>;
}

export function wiringFromEnvironment(env: NodeJS.ProcessEnv = process.env): Wiring {
  const get = (name: string) => (env[name] ? env[name] : undefined);
  return {
    queueUrl: get(EnvVars.QUEUE_URL),
    dlqUrl: get(EnvVars.DLQ_URL),
    idempotencyTable: get(EnvVars.IDEMPOTENCY_TABLE),
    jobTable: get(EnvVars.JOB_TABLE),
    bucket: get(EnvVars.BUCKET),
    workerFunction: get(EnvVars.WORKER_FUNCTION),
    orchestratorFunction: get(EnvVars.ORCHESTRATOR_FUNCTION),
  };
}

export function createRuntime(env: NodeJS.ProcessEnv = process.env): FunctionRuntime {
  // First: a missing or bad config, or a bad downstream entry, fails the container's start before any client
  // or socket is made.
  const config = fromEnvironment(env);
  createContainerDownstream(config);
  const wiring = wiringFromEnvironment(env);
  const aws = createAwsClients({ maxSockets: config.awsMaxSockets }, env);
  // Shared hosts lease fleet-wide permits on the job table when it is wired; else each keeps its static share.
  const downstream = createContainerDownstream(config, leaseWiring(config, wiring, aws, env));
  const http = createHttpAgents(
    {
      maxSockets: config.maxSockets,
      maxSocketsPerHost: config.maxSocketsPerHost,
      connectTimeoutMs: config.connectTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    { allow: config.allowHosts, refuse: refusedHosts(env) },
  );
  const secrets = containerSecrets(config, aws, env);
  const ledger = wiring.jobTable
    ? new JobLedgerTable(aws.dynamodb, {
        tableName: wiring.jobTable,
        retentionDays: config.resultsRetentionDays,
      })
    : undefined;
  const persistence = persistenceLayers(wiring.idempotencyTable, aws);
  return {
    config,
    wiring,
    aws,
    http,
    // requestTimeoutMs is every attempt's timeout unless the task sets its own (the budget checks it).
    taskOptions: { dispatcher: http.dispatcher, timeoutMs: config.requestTimeoutMs },
    downstream,
    secrets,
    ledger,
    persistence,
    async destroy() {
      await http.destroy();
      secrets.destroy();
      aws.destroy();
    },
  };
}

/** The fleet-wide lease store on the job table, when one is wired (else shared hosts keep their static share). */
function leaseWiring(
  config: FanoutConfig,
  wiring: Wiring,
  aws: AwsClients,
  env: NodeJS.ProcessEnv,
): FleetLeaseWiring | undefined {
  if (!wiring.jobTable) return undefined;
  return {
    store: new LeaseTable(aws.dynamodb, { tableName: wiring.jobTable }),
    rates: new RateSlices(aws.dynamodb, { tableName: wiring.jobTable }),
    holder: `${env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local'}#${randomUUID()}`,
    maxHoldMs: config.requestTimeoutMs,
    ...leaseEvents(),
  };
}

/** The secret resolver on the AWS clients' bounded agents; the environment source only when switched on. */
function containerSecrets(config: FanoutConfig, aws: AwsClients, env: NodeJS.ProcessEnv) {
  return createSecretResolver({
    config: config.secrets,
    agents: { httpAgent: aws.httpAgent, httpsAgent: aws.httpsAgent },
    allowEnv: env[EnvVars.SECRETS_FROM_ENV] === '1',
    env,
  });
}

/** One idempotency persistence layer per use, made on first use on the shared client; none without a table. */
function persistenceLayers(
  table: string | undefined,
  aws: AwsClients,
): (use: string) => DynamoDBPersistenceLayer | undefined {
  const layers = new Map<string, DynamoDBPersistenceLayer>();
  return (use: string) => {
    if (!table) return undefined;
    let layer = layers.get(use);
    if (!layer) {
      layer = new DynamoDBPersistenceLayer({ tableName: table, awsSdkV3Client: aws.dynamodb });
      layers.set(use, layer);
    }
    return layer;
  };
}

/**
 * One policy per container, so each process of the fleet keeps its own share: a worker instance runs one
 * invocation at a time and its permits and token buckets carry over from one invocation to the next.
 */
export function createContainerDownstream(
  config: FanoutConfig,
  leases?: FleetLeaseWiring,
): DownstreamPolicy | undefined {
  if (Object.keys(config.downstream ?? {}).length === 0) return undefined;
  return createDownstream(config.downstream, { share: fleetShare(config), ...(leases ? { leases } : {}) });
}

/** The runtime of this container, made on first use (so importing a handler has no side effects). */
export function lazyRuntime(env: NodeJS.ProcessEnv = process.env): () => FunctionRuntime {
  let runtime: FunctionRuntime | undefined;
  return () => {
    runtime ??= createRuntime(env);
    return runtime;
  };
}

/** Worker idempotency needs a table unless it is off; say so plainly rather than run unguarded. */
export function requirePersistence(
  runtime: FunctionRuntime,
  use: string,
): DynamoDBPersistenceLayer | undefined {
  if (runtime.config.idempotency === IdempotencyModes.OFF) return undefined;
  const layer = runtime.persistence(use);
  if (!layer) {
    throw new Error(
      `${EnvVars.IDEMPOTENCY_TABLE} is not set but idempotency is "${runtime.config.idempotency}": set the table or idempotency "off"`,
    );
  }
  return layer;
}

/** The local runtime's own endpoints, which no task may reach whatever allowHosts says (unset in AWS). */
function refusedHosts(env: NodeJS.ProcessEnv): string[] {
  const raw = env[EnvVars.REFUSE_HOSTS];
  return raw ? raw.split(',').filter((entry) => entry.trim() !== '') : [];
}
