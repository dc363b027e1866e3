// The orchestrator and the worker: NodejsFunctions bundled by the local esbuild, on arm64 and the newest Node.js
// runtime of this aws-cdk-lib, each with its own role and log group, and the worker on the SQS event source.
// Each role gets exactly the actions its function uses, on exactly its resources.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  EnvVars,
  type FanoutConfig,
  functionConfig,
  reservationOf,
  resourceNames,
  toEnvironment,
} from '../lib/config.js';
import { grantOrchestrator, grantWorker } from './grants.js';
import type { FanoutQueues } from './queues.js';
import type { FanoutStorage } from './storage.js';
import { type FunctionNetwork, functionNetwork, grantNetworkInterfaces } from './vpc.js';

/** The newest Node.js runtime aws-cdk-lib 2.276 offers, pinned (not NODEJS_LATEST, which moves with upgrades). */
export const NODE_RUNTIME = Runtime.NODEJS_24_X;

/**
 * ESM output: the handlers are ESM (top-level await for per-container set-up), and so are the AWS SDK v3 and
 * Powertools builds esbuild picks with `module` first. Some bundled CommonJS dependencies still call
 * `require` for Node built-ins, which ESM lacks: the banner gives them one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __bfCreateRequire } from 'node:module'; const require = __bfCreateRequire(import.meta.url);";

export interface FunctionEntries {
  readonly orchestrator: string;
  readonly worker: string;
}

export interface FanoutFunctionsProps {
  readonly config: FanoutConfig;
  readonly entries: FunctionEntries;
  /** The directory holding package-lock.json and tsconfig.json. */
  readonly projectRoot: string;
  readonly queues: FanoutQueues;
  readonly storage: FanoutStorage;
}

export class FanoutFunctions extends Construct {
  readonly orchestrator: NodejsFunction;
  readonly worker: NodejsFunction;

  constructor(scope: Construct, id: string, props: FanoutFunctionsProps) {
    super(scope, id);
    const { config, queues, storage } = props;
    const names = resourceNames(config);
    const environment = {
      [EnvVars.CONFIG]: toEnvironment(functionConfig(config)),
      [EnvVars.QUEUE_URL]: queues.queue.queueUrl,
      [EnvVars.DLQ_URL]: queues.deadLetterQueue.queueUrl,
      [EnvVars.IDEMPOTENCY_TABLE]: storage.idempotencyTable.tableName,
      [EnvVars.JOB_TABLE]: storage.jobTable.tableName,
      [EnvVars.BUCKET]: storage.bucket.bucketName,
      // Names, not ARNs: known before deploy, so the orchestrator can name itself without a circular reference.
      [EnvVars.WORKER_FUNCTION]: names.worker,
      [EnvVars.ORCHESTRATOR_FUNCTION]: names.orchestrator,
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: config.prefix,
      POWERTOOLS_METRICS_NAMESPACE: 'BoundedFanout',
    };
    const common = { ...props, environment, network: functionNetwork(this, config.vpc) };

    this.worker = this.#function('Worker', common, {
      name: names.worker,
      entry: props.entries.worker,
      timeoutSeconds: config.workerTimeoutSeconds,
      memoryMb: config.workerMemoryMb,
      reserved: reservationOf(config.workerReservedConcurrency),
    });
    this.worker.addEventSource(
      new SqsEventSource(queues.queue, {
        batchSize: config.batchSize,
        maxBatchingWindow:
          config.maxBatchingWindowSeconds > 0 ? Duration.seconds(config.maxBatchingWindowSeconds) : undefined,
        reportBatchItemFailures: true,
        maxConcurrency: config.workerMaxConcurrency,
      }),
    );
    grantWorker(this.worker, props);

    this.orchestrator = this.#function('Orchestrator', common, {
      name: names.orchestrator,
      entry: props.entries.orchestrator,
      timeoutSeconds: config.orchestratorTimeoutSeconds,
      memoryMb: config.orchestratorMemoryMb,
      reserved: reservationOf(config.orchestratorReservedConcurrency),
      // Failed asynchronous invocations (schedules, continuations) keep their event there after the retries.
      deadLetterQueue: queues.orchestratorDeadLetterQueue,
    });
    // An event that failed every attempt also goes to the worker, which breaks its run in the job ledger
    // (functions/orchestrator-failure.ts): else the run stays `running` for ever. The orchestrator's role may
    // already invoke the worker (grants.ts), so the destination adds no grant of its own.
    const workerArn = this.worker.functionArn;
    this.orchestrator.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: { bind: () => ({ destination: workerArn }) },
    });
    grantOrchestrator(this.orchestrator, this.worker, props);
  }

  #function(
    id: string,
    common: FanoutFunctionsProps & { environment: Record<string, string>; network?: FunctionNetwork },
    spec: {
      name: string;
      entry: string;
      timeoutSeconds: number;
      memoryMb: number;
      /** undefined: no reservation. Never 0, which Lambda takes as "throttle every invocation". */
      reserved: number | undefined;
      deadLetterQueue?: IQueue;
    },
  ): NodejsFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, {
      logGroupName: `/aws/lambda/${spec.name}`,
      // validateBudget admits only CloudWatch's retention periods, which are RetentionDays' values.
      retention: common.config.logRetentionDays as RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Our own role, not AWSLambdaBasicExecutionRole: logging is granted on this function's log group only.
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${spec.name}: only what the function uses`,
    });
    // The log group's ARN ends in `:*`, its streams: Lambda names a stream per execution environment.
    logGroup.grantWrite(role);
    if (common.network) grantNetworkInterfaces(role);
    return new NodejsFunction(this, id, {
      functionName: spec.name,
      entry: spec.entry,
      handler: 'handler',
      runtime: NODE_RUNTIME,
      architecture: Architecture.ARM_64,
      timeout: Duration.seconds(spec.timeoutSeconds),
      memorySize: spec.memoryMb,
      reservedConcurrentExecutions: spec.reserved,
      role,
      ...common.network,
      logGroup,
      environment: common.environment,
      deadLetterQueue: spec.deadLetterQueue,
      projectRoot: common.projectRoot,
      depsLockFilePath: `${common.projectRoot}/package-lock.json`,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the pinned AWS SDK rather than the runtime's copy, so the code runs on the versions it was
        // tested with (the bounded socket handler among them).
        bundleAwsSDK: true,
        tsconfig: `${common.projectRoot}/tsconfig.json`,
      },
    });
  }
}
