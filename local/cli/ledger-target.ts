// Where the ledger commands talk: an endpoint on this machine (a local `serve` or `run`, or LocalStack) with
// every AWS client on it and placeholder credentials, or AWS itself with the SDK's default credentials and
// region. The job table and the worker are named from --prefix as the stack names them. Failures to reach the
// endpoint, or a table that is not there, become one line and exit code 2.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { JobLedgerTable } from '../../lib/aws/job-ledger-table.js';
import { resourceNames } from '../../lib/config.js';
import type { JobLedger } from '../../lib/ledger/job-ledger.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import type { LedgerTargetArgs } from './ledger-args.js';
import { jobIds } from './ledger-jobs.js';
import { asEndpointError } from './sqs-endpoint.js';
import { UsageError } from './usage-error.js';

export type ResourceNames = ReturnType<typeof resourceNames>;

/** The store on the stack's job table: the one place that names the implementation. */
export type JobLedgerFactory = (
  dynamodb: DynamoDBClient,
  tableName: string,
  retentionDays: number,
) => JobLedger;

export const createJobLedger: JobLedgerFactory = (dynamodb, tableName, retentionDays) =>
  new JobLedgerTable(dynamodb, { tableName, retentionDays });

export interface LedgerTarget {
  readonly ledger: JobLedger;
  readonly names: ResourceNames;
  /** The endpoint, or undefined for AWS. */
  readonly endpoint?: string;
  /** For messages: `the job table NAME at URL` or `... in AWS`. */
  readonly where: string;
  /** The ids of every job with a run in the table (a Scan: see ledger-jobs.ts). */
  scanJobIds(): Promise<string[]>;
  /** The Lambda API on the same endpoint (made on first use). */
  lambda(): LambdaClient;
  /** The S3 API on the same endpoint (made on first use; path-style on an endpoint, as emulators need). */
  s3(): S3Client;
  destroy(): void;
}

export function openLedgerTarget(
  args: LedgerTargetArgs,
  env: NodeJS.ProcessEnv,
  factory: JobLedgerFactory = createJobLedger,
): LedgerTarget {
  const names = resourceNames({ prefix: args.prefix });
  const options = clientOptions(args, env);
  const dynamodb = new DynamoDBClient(options);
  let lambda: LambdaClient | undefined;
  let s3: S3Client | undefined;
  const where = `the job table ${names.jobTable} ${args.endpoint ? `at ${args.endpoint}` : 'in AWS'}`;
  const translate = (error: unknown) => translateError(error, where, args.endpoint);
  return {
    ledger: translated(factory(dynamodb, names.jobTable, args.retentionDays), translate),
    names,
    endpoint: args.endpoint,
    where,
    scanJobIds: () =>
      jobIds(dynamodb, names.jobTable).catch((error: unknown) => {
        throw translate(error);
      }),
    lambda: () => {
      lambda ??= new LambdaClient(options);
      return lambda;
    },
    s3: () => {
      s3 ??= new S3Client({ ...options, forcePathStyle: Boolean(args.endpoint) });
      return s3;
    },
    destroy() {
      dynamodb.destroy();
      lambda?.destroy();
      s3?.destroy();
    },
  };
}

function clientOptions(args: LedgerTargetArgs, env: NodeJS.ProcessEnv) {
  if (!args.endpoint) return args.region ? { region: args.region } : {};
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  return {
    endpoint: args.endpoint,
    region: args.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 30_000 }),
    // Emulators and LocalStack take any credentials; a user's own, when set, pick LocalStack's account.
    ...(hasCredentials ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  };
}

function translateError(error: unknown, where: string, endpoint: string | undefined): unknown {
  if ((error as { name?: string } | null)?.name === 'ResourceNotFoundException') {
    return new UsageError(`No ${where.replace(/^the /, '')} (is the stack deployed there? see --prefix)`, {
      flag: '--prefix',
    });
  }
  return endpoint ? asEndpointError(endpoint, error) : error;
}

/** The ledger with every call's failure translated (a proxy keeps the port's whole surface). */
function translated(ledger: JobLedger, translate: (error: unknown) => unknown): JobLedger {
  return new Proxy(ledger, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...callArgs: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(target, callArgs).catch((error: unknown) => {
          throw translate(error);
        });
    },
  });
}

/** The run asked for (the job's latest without `runId`), or a usage error naming what is missing. */
export async function findRun(target: LedgerTarget, jobId: string, runId?: string): Promise<RunRecord> {
  const record = await target.ledger.getRun(jobId, runId);
  if (record) return record;
  const what = runId === undefined ? `job ${jobId} has no runs` : `job ${jobId} has no run ${runId}`;
  throw new UsageError(`No such run: ${what} in ${target.where}`, { flag: runId ? '--run' : '--job' });
}
