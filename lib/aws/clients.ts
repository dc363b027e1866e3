// The AWS SDK clients of one process on one bounded keep-alive agent: the SDK's own NodeHttpHandler over
// node:http(s) Agents with maxSockets and maxTotalSockets, so a fan-out of SendMessageBatch or Invoke
// calls queues inside the agent instead of opening a socket per call. The four clients share the agents,
// so `maxSockets` bounds them together.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Logger } from '@smithy/types';
import { assertInteger, InvalidArgumentError } from '../errors.js';
import { resolveHttpLimits } from '../http/limits.js';
import { createNodeAgents, type NodeAgents } from '../http/node-agents.js';

export interface AwsClientsOptions {
  /** Sockets the four clients may open together. */
  readonly maxSockets: number;
  /** One endpoint for every service (an emulator). Unless given, the SDK reads AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL. */
  readonly endpoint?: string;
  /** AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1 unless given. */
  readonly region?: string;
  /** Time allowed to open a socket, timed by the agent from the connect (not from the call, which may queue). */
  readonly connectTimeoutMs?: number;
  /** A socket with no traffic this long is closed and the call fails; covers 20 s long polls and sync Invokes. */
  readonly socketTimeoutMs?: number;
  /** A whole request-response this long fails (0: no limit, the default; socketTimeoutMs still applies). */
  readonly requestTimeoutMs?: number;
  readonly keepAliveMs?: number;
  /** SDK attempts per call (its standard retry strategy); the SDK default (3) unless given. */
  readonly maxAttempts?: number;
  /** Receives the handler's warnings; the default drops "socket usage at capacity", which is the point of the cap. */
  readonly logger?: Logger;
}

export interface AwsClients extends NodeAgents {
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  /** The `Run Finished` event of the job ledger (AWS_ENDPOINT_URL_EVENTBRIDGE locally). */
  readonly events: EventBridgeClient;
  /** Destroys the clients and their shared sockets (destroying one client alone closes the shared agents too). */
  destroy(): void;
}

export const defaultAwsClientOptions = {
  connectTimeoutMs: 3_000,
  socketTimeoutMs: 120_000,
  requestTimeoutMs: 0,
  keepAliveMs: 15_000,
} as const;

const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (...content: unknown[]) => console.error(...content),
};

/** True when an endpoint comes from anywhere (then S3 needs path-style addressing). */
function hasEndpoint(endpoint: string | undefined, env: NodeJS.ProcessEnv): boolean {
  return Boolean(endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
}

/** The options with their defaults, each checked (naming the option and the value) before any client is built. */
function resolveClientOptions(options: AwsClientsOptions, env: NodeJS.ProcessEnv) {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', options, 'an object like { maxSockets: 32 }');
  }
  const {
    maxSockets,
    endpoint,
    region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    connectTimeoutMs = defaultAwsClientOptions.connectTimeoutMs,
    socketTimeoutMs = defaultAwsClientOptions.socketTimeoutMs,
    requestTimeoutMs = defaultAwsClientOptions.requestTimeoutMs,
    keepAliveMs = defaultAwsClientOptions.keepAliveMs,
    maxAttempts,
    logger = quietLogger,
  } = options;
  const limits = resolveHttpLimits({ maxSockets, keepAliveMs, connectTimeoutMs });
  assertInteger('socketTimeoutMs', socketTimeoutMs, { min: 0 });
  assertInteger('requestTimeoutMs', requestTimeoutMs, { min: 0 });
  if (maxAttempts !== undefined) assertInteger('maxAttempts', maxAttempts);
  if (
    endpoint !== undefined &&
    !(typeof endpoint === 'string' && /^https?:\/\//.test(endpoint) && URL.canParse(endpoint))
  ) {
    throw new InvalidArgumentError('endpoint', endpoint, 'an absolute http: or https: URL');
  }
  if (typeof region !== 'string' || region === '')
    throw new InvalidArgumentError('region', region, 'a region name');

  return { limits, endpoint, region, socketTimeoutMs, requestTimeoutMs, maxAttempts, logger };
}

export function createAwsClients(
  options: AwsClientsOptions,
  env: NodeJS.ProcessEnv = process.env,
): AwsClients {
  const { limits, endpoint, region, socketTimeoutMs, requestTimeoutMs, maxAttempts, logger } =
    resolveClientOptions(options, env);
  const agents = createNodeAgents(limits);
  const handler = () =>
    new NodeHttpHandler({
      ...agents,
      // No handler connectionTimeout: its clock starts when the call is made, so under a socket cap a call
      // queued for its turn would "time out connecting". The agents time the TCP connect itself instead.
      connectionTimeout: 0,
      socketTimeout: socketTimeoutMs,
      requestTimeout: requestTimeoutMs,
      throwOnRequestTimeout: requestTimeoutMs > 0,
      logger,
    });
  // Only an explicit endpoint is passed: otherwise the SDK's own resolution reads the standard variables.
  const common = {
    region,
    requestHandler: handler(),
    ...(endpoint ? { endpoint } : {}),
    ...(maxAttempts ? { maxAttempts } : {}),
  };
  const sqs = new SQSClient(common);
  const lambda = new LambdaClient({ ...common, requestHandler: handler() });
  const s3 = new S3Client({
    ...common,
    requestHandler: handler(),
    forcePathStyle: hasEndpoint(endpoint, env),
  });
  const dynamodb = new DynamoDBClient({ ...common, requestHandler: handler() });
  const events = new EventBridgeClient({ ...common, requestHandler: handler() });
  return {
    ...agents,
    sqs,
    lambda,
    s3,
    dynamodb,
    events,
    destroy() {
      for (const client of [sqs, lambda, s3, dynamodb, events]) client.destroy();
    },
  };
}
