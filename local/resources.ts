// Creates the stack's resources on a local backend (the embedded emulators or LocalStack), with the names and
// settings the CDK stack gives them, all from the one shared config. Through the AWS SDK, so it works against
// any endpoint; creating what already exists is fine (queues with the same attributes, the table, the bucket).
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DEAD_LETTER_RETENTION_SECONDS,
  type FanoutConfig,
  idempotencyTableAttributes,
  jobTableAttributes,
  resourceNames,
} from '../lib/config.js';
import type { Endpoints } from './emulators.js';

export interface LocalResources {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
  /** The orchestrator's own DLQ: its asynchronous events that failed every attempt (local/async-dead-letters.ts). */
  readonly orchestratorDeadLetterQueueUrl: string;
  readonly idempotencyTable: string;
  /** The job ledger's table (lib/aws/job-ledger-table.ts). */
  readonly jobTable: string;
  readonly bucket: string;
}

export interface AwsTarget {
  readonly endpoints: Endpoints;
  readonly region: string;
  /** The DynamoDB front behind the one local endpoint, when there is one (BackendInfo.functionsDynamodb). */
  readonly functionsDynamodb?: string;
}

/**
 * Where the runtime's own DynamoDB calls go: straight to the front behind the one local endpoint, as its functions'
 * do, so that every read arriving at the endpoint is an outside client's (local/dynamo-readers.ts).
 */
export const ownDynamodbEndpoint = (target: AwsTarget): string =>
  target.functionsDynamodb ?? target.endpoints.dynamodb;

export const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export function sqsClient({ endpoints, region }: AwsTarget): SQSClient {
  return new SQSClient({ endpoint: endpoints.sqs, region, credentials: localCredentials });
}

export async function createResources(
  config: Pick<FanoutConfig, 'prefix' | 'visibilityTimeoutSeconds' | 'maxReceiveCount'>,
  target: AwsTarget,
): Promise<LocalResources> {
  const names = resourceNames(config);
  const sqs = sqsClient(target);
  const dynamodb = new DynamoDBClient({
    endpoint: ownDynamodbEndpoint(target),
    region: target.region,
    credentials: localCredentials,
  });
  const s3 = new S3Client({
    endpoint: target.endpoints.s3,
    region: target.region,
    credentials: localCredentials,
    forcePathStyle: true,
  });
  try {
    const [queues] = await Promise.all([
      createQueues(sqs, target, names, config),
      createTable(dynamodb, names.idempotencyTable, idempotencyTable),
      createTable(dynamodb, names.jobTable, jobTable),
      createBucket(s3, names.bucket),
    ]);
    return {
      ...queues,
      idempotencyTable: names.idempotencyTable,
      jobTable: names.jobTable,
      bucket: names.bucket,
    };
  } finally {
    sqs.destroy();
    dynamodb.destroy();
    s3.destroy();
  }
}

async function createQueues(
  sqs: SQSClient,
  target: AwsTarget,
  names: ReturnType<typeof resourceNames>,
  config: Pick<FanoutConfig, 'visibilityTimeoutSeconds' | 'maxReceiveCount'>,
) {
  const [deadLetterQueueUrl, orchestratorDeadLetterQueueUrl] = await Promise.all([
    createDeadLetterQueue(sqs, target, names.deadLetterQueue),
    createDeadLetterQueue(sqs, target, names.orchestratorDeadLetterQueue),
  ]);
  const deadLetterQueueArn = await queueArn(sqs, deadLetterQueueUrl);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(config.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: deadLetterQueueArn,
          maxReceiveCount: config.maxReceiveCount,
        }),
      },
    }),
  );
  const queueUrl = sameOrigin(queue.QueueUrl!, target.endpoints.sqs);
  return {
    queueUrl,
    queueArn: await queueArn(sqs, queueUrl),
    deadLetterQueueUrl,
    deadLetterQueueArn,
    orchestratorDeadLetterQueueUrl,
  };
}

/** A dead-letter queue as the stack makes both: kept 14 days, no redrive of its own. */
async function createDeadLetterQueue(sqs: SQSClient, target: AwsTarget, QueueName: string): Promise<string> {
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName,
      Attributes: { MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_SECONDS) },
    }),
  );
  return sameOrigin(dlq.QueueUrl!, target.endpoints.sqs);
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return Attributes!.QueueArn!;
}

/**
 * A queue URL on the endpoint's origin. LocalStack (behind a mapped port) may name another host in its URLs;
 * it finds queues by path, and the SDK then keeps to the configured endpoint.
 */
export function sameOrigin(queueUrl: string, endpoint: string): string {
  const url = new URL(queueUrl);
  const origin = new URL(endpoint);
  if (url.origin === origin.origin) return queueUrl;
  return new URL(url.pathname, origin).href;
}

interface TableLayout {
  readonly partitionKey: string;
  readonly sortKey?: string;
  readonly timeToLive: string;
}

// The stack's layouts (lib/config.ts), so a table made here is the table the stack makes.
const idempotencyTable: TableLayout = idempotencyTableAttributes;
const jobTable: TableLayout = jobTableAttributes;

async function createTable(dynamodb: DynamoDBClient, tableName: string, layout: TableLayout): Promise<void> {
  const keys = [
    { AttributeName: layout.partitionKey, KeyType: 'HASH' as const },
    ...(layout.sortKey ? [{ AttributeName: layout.sortKey, KeyType: 'RANGE' as const }] : []),
  ];
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: keys.map((k) => ({ AttributeName: k.AttributeName, AttributeType: 'S' })),
        KeySchema: keys,
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  try {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: layout.timeToLive, Enabled: true },
      }),
    );
  } catch (error) {
    // dynalite has no TTL API (UnknownOperationException): records there simply never expire. DynamoDB
    // refuses to enable TTL twice (ValidationException): already on is what we want.
    const { name, message } = error as Error;
    if (name !== 'UnknownOperationException' && !/already enabled/i.test(message)) throw error;
  }
}

async function createBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou) && (error as Error).name !== 'BucketAlreadyExists') {
      throw error;
    }
  }
}
