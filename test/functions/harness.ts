// The AWS side for handler tests: the backend vitest's global setup chose (the embedded fauxqs and
// dynalite in process, or LocalStack), this file's own queue, DLQ, idempotency table and bucket (unique
// prefix), the environment the handlers read, and a Lambda context whose remaining time the test controls.
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { inject } from 'vitest';
import { EnvVars, type FanoutConfig, withDefaults } from '../../lib/config.js';
import { Edge } from '../../local/edge.js';
import { createResources, type LocalResources, localCredentials } from '../../local/resources.js';

export interface Harness {
  readonly resources: LocalResources;
  readonly config: FanoutConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly sqs: SQSClient;
  destroy(): void;
}

/** Quiet Powertools in tests: set before the handler modules are imported. */
export function quietPowertools(): void {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_DEV = 'false';
}

export async function startHarness(
  overrides: Partial<FanoutConfig>,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Harness> {
  const backend = inject('backend');
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const config = withDefaults({
    prefix,
    allowHosts: ['127.0.0.1'],
    visibilityTimeoutSeconds: 30,
    ...overrides,
  });
  const resources = await createResources(config, backend);
  // The SDK reads endpoints and credentials from the process environment, as on Lambda.
  Object.assign(process.env, {
    AWS_REGION: backend.region,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: backend.endpoints.sqs,
    AWS_ENDPOINT_URL_S3: backend.endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: backend.endpoints.dynamodb,
    // The local endpoint's event bus, or LocalStack's EventBridge: a Run Finished event never heads for AWS.
    ...(backend.endpoints.events ? { AWS_ENDPOINT_URL_EVENTBRIDGE: backend.endpoints.events } : {}),
    ...extraEnv,
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [EnvVars.CONFIG]: JSON.stringify(config),
    [EnvVars.QUEUE_URL]: resources.queueUrl,
    [EnvVars.DLQ_URL]: resources.deadLetterQueueUrl,
    [EnvVars.IDEMPOTENCY_TABLE]: resources.idempotencyTable,
    [EnvVars.JOB_TABLE]: resources.jobTable,
    [EnvVars.BUCKET]: resources.bucket,
    [EnvVars.WORKER_FUNCTION]: `${prefix}-worker`,
    [EnvVars.ORCHESTRATOR_FUNCTION]: `${prefix}-orchestrator`,
  };
  const sqs = new SQSClient({
    endpoint: backend.endpoints.sqs,
    region: backend.region,
    credentials: localCredentials,
  });
  return { resources, config, env, sqs, destroy: () => sqs.destroy() };
}

/**
 * An EventBridge of the test's own (the local edge's bus), for the handlers `h` wires and any runtime made in
 * this process after: the Run Finished events land where the test can read them, never heading for AWS.
 */
export async function startEventBus(h: Harness): Promise<Edge> {
  const events = await Edge.start({ upstreams: {}, listen: { host: '127.0.0.1', port: 0 } });
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = events.url;
  h.env.AWS_ENDPOINT_URL_EVENTBRIDGE = events.url;
  return events;
}

/** A Lambda context whose remaining time is whatever `remaining()` says at each call. */
export function fakeContext(
  remaining: () => number = () => 60_000,
  awsRequestId: string = randomUUID(),
): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
    memoryLimitInMB: '512',
    awsRequestId,
    logGroupName: '/aws/lambda/test',
    logStreamName: 'test',
    getRemainingTimeInMillis: remaining,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Receives every message now in a queue (deleting them), the way a drain would. */
export async function drainQueue(
  sqs: SQSClient,
  queueUrl: string,
  { keep = false } = {},
): Promise<Message[]> {
  const out: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 30,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    out.push(...Messages);
    if (!keep) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  }
  return out;
}

/** An SQS event as Lambda's event source builds it from received messages. */
export function sqsEvent(
  messages: readonly Message[],
  queueArn = 'arn:aws:sqs:us-east-1:000000000000:q',
): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body!,
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'us-east-1',
    })),
  };
}

/**
 * Watches a container's DynamoDB reads for the first record holding every one of `needles` (a run's limit
 * override arriving there), added to its middleware stack as `name` (remove it by that name). The getter
 * returns what `mark()` said at that read: -1 until it comes.
 */
export function watchRecordRead(
  client: DynamoDBClient,
  needles: readonly string[],
  mark: () => number,
  name: string,
): () => number {
  let seenAt = -1;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const read = /^Get(Item)?Command$/.test(context.commandName ?? '');
      const text = read ? JSON.stringify(out.output) : '';
      if (seenAt < 0 && needles.every((needle) => text.includes(needle))) seenAt = mark();
      return out;
    },
    { step: 'initialize', name },
  );
  return () => seenAt;
}
