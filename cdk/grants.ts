// What each function may do, action by action, on exactly its resources. Every `*` in a resource is an S3
// object ARN under a key prefix (S3 scopes object permissions by prefix), acknowledged to cdk-nag with a reason.
import { ArnFormat, Aws, Stack, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BUCKET_PLACEHOLDER, CONTINUATIONS_PREFIX, type FanoutConfig, resourceNames } from '../lib/config.js';
import type { FanoutQueues } from './queues.js';
import type { FanoutStorage } from './storage.js';

/** What Powertools' idempotency does with a record: read, create (conditional), complete, delete on failure. */
const IDEMPOTENCY_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

export interface GrantProps {
  readonly config: FanoutConfig;
  readonly queues: FanoutQueues;
  readonly storage: FanoutStorage;
}

/**
 * The worker consumes the queue (the event source grants receive, delete, change visibility and attributes),
 * keeps idempotency records, and hands failed tasks on by itself: a retry message with only the tasks that
 * failed to the work queue, the tasks that failed for good to the dead-letter queue.
 */
export function grantWorker(worker: IFunction, { queues, storage }: GrantProps): void {
  const role = worker.role!;
  storage.idempotencyTable.grant(role, ...IDEMPOTENCY_ACTIONS);
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [queues.queue.queueArn, queues.deadLetterQueue.queueArn],
    }),
  );
}

/**
 * The orchestrator sends task batches to the queue (and invalid or failed tasks to the dead-letter queue),
 * invokes the worker and itself (continuations), keeps idempotency records (one per segment),
 * reads manifests, and writes results and oversized continuations.
 */
export function grantOrchestrator(orchestrator: IFunction, worker: IFunction, props: GrantProps): void {
  const { config, queues, storage } = props;
  const role = orchestrator.role!;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [queues.queue.queueArn, queues.deadLetterQueue.queueArn],
    }),
  );
  // The unqualified ARNs only: it invokes the worker and itself by name, never a version or an alias.
  const self = Stack.of(orchestrator).formatArn({
    service: 'lambda',
    resource: 'function',
    resourceName: resourceNames(config).orchestrator,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [worker.functionArn, self] }),
  );
  storage.idempotencyTable.grant(role, ...IDEMPOTENCY_ACTIONS);
  grantBucket(role, props);
}

function grantBucket(role: IRole, { config, storage }: GrantProps): void {
  const bucket = storage.bucket;
  const under = (prefix: string) => bucket.arnForObjects(`${prefix}*`);
  const { manifestsPrefix, resultsPrefix } = config;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [
        under(manifestsPrefix),
        under(resultsPrefix),
        under(CONTINUATIONS_PREFIX),
        ...scheduledManifest(config, storage),
      ],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['s3:PutObject'],
      resources: [under(resultsPrefix), under(CONTINUATIONS_PREFIX)],
    }),
  );
  // Listing is needed to gather a result's parts; only under the results prefix.
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${resultsPrefix}*`] } },
    }),
  );
  const bucketId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnBucket);
  for (const prefix of new Set([manifestsPrefix, resultsPrefix, CONTINUATIONS_PREFIX])) {
    Validations.of(role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
      reason: `S3 scopes object permissions by key prefix: the orchestrator's objects are those under "${prefix}".`,
    });
  }
}

/**
 * The exact object the schedule's input points at, when it is outside the manifests prefix (another bucket,
 * or another key in this one): the orchestrator may read that object and no other.
 */
function scheduledManifest(config: FanoutConfig, storage: FanoutStorage): string[] {
  const pointer = config.schedule.input.manifest;
  const match = typeof pointer === 'string' ? /^s3:\/\/([^/]+)\/(.+)$/.exec(pointer) : null;
  if (!match) return [];
  const [, bucket, key] = match;
  if (bucket === BUCKET_PLACEHOLDER) {
    return key.startsWith(config.manifestsPrefix) ? [] : [storage.bucket.arnForObjects(key)];
  }
  return [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}`];
}
