// What each function may do, action by action, on exactly its resources. Every `*` in a resource is an S3
// object ARN under a key prefix (S3 scopes object permissions by prefix), acknowledged to cdk-nag with a reason.
import { ArnFormat, Aws, Stack, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BUCKET_PLACEHOLDER, CONTINUATIONS_PREFIX, type FanoutConfig, resourceNames } from '../lib/config.js';
import { RUN_FINISHED_EVENT } from '../lib/ledger/run-finished-event.js';
import type { FanoutQueues } from './queues.js';
import { grantSecretReads } from './secret-grants.js';
import type { FanoutStorage } from './storage.js';

/** What Powertools' idempotency does with a record: read, create (conditional), complete, delete on failure. */
const IDEMPOTENCY_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];
/** The worker's task records in 'task' mode (lib/aws/task-records.ts): a message's read at once, written in groups. */
const TASK_RECORD_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'];

/**
 * What each function does with the job table (lib/aws/job-ledger-table.ts). A settle is one TransactWriteItems
 * of a PutItem (the settled key's marker) and an UpdateItem (the counts): IAM checks each item's own action,
 * there is no TransactWriteItems action. Neither function scans or deletes.
 */
const LEDGER_ACTIONS = {
  // Starts runs (Query: the job's latest run, for the overlap policy), settles segments, finishes runs.
  orchestrator: [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
  ],
  // Settles messages, reads its run's record (cached per container), may finish the run.
  worker: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
} as const;

/**
 * What the lease store adds (lib/aws/lease-table.ts), for hosts declared `shared: true` only: a consistent
 * Query of a host's lease partition, and the Delete of a holder's item at its version (a lease given back in
 * full, or an expired one reclaimed). Both limited to the lease partitions (`lease#<host>`) by their leading
 * key; the counts and the rate slices are Get and Update, which the ledger's actions grant already.
 */
const LEASE_ACTIONS = ['dynamodb:Query', 'dynamodb:DeleteItem'];
const LEASE_KEYS = 'lease#*';

export interface GrantProps {
  readonly config: FanoutConfig;
  readonly queues: FanoutQueues;
  readonly storage: FanoutStorage;
}

/**
 * The worker consumes the queue (the event source grants receive, delete, change visibility and attributes),
 * keeps idempotency records (and its tasks' records in 'task' mode), and hands failed tasks on by itself: a retry message with only the tasks that
 * failed to the work queue, the tasks that failed for good to the dead-letter queue. It settles each message
 * in the job ledger and writes result parts; the worker that ends a run writes its result and event.
 */
export function grantWorker(worker: IFunction, props: GrantProps): void {
  const { queues, storage } = props;
  const role = worker.role!;
  storage.idempotencyTable.grant(role, ...IDEMPOTENCY_ACTIONS, ...TASK_RECORD_ACTIONS);
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [queues.queue.queueArn, queues.deadLetterQueue.queueArn],
    }),
  );
  grantLedger(role, LEDGER_ACTIONS.worker, props);
  grantResults(role, props);
  grantSecretReads(role, props.config.secrets);
  grantFailureDestination(worker, props);
}

/**
 * The worker as the orchestrator's on-failure destination (functions/orchestrator-failure.ts): it reads a failed
 * first segment's manifest header (to name its run), and sends a settled segment's next segment again; when
 * that is an inline job over Lambda's event payload, it keeps the job under the continuations prefix first, as
 * the orchestrator does (functions/orchestrator-ports.ts).
 */
function grantFailureDestination(worker: IFunction, { config, storage }: GrantProps): void {
  const role = worker.role!;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [
        storage.bucket.arnForObjects(`${config.manifestsPrefix}*`),
        ...scheduledManifest(config, storage),
      ],
    }),
  );
  acknowledgePrefix(role, storage, config.manifestsPrefix, 'the worker');
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['s3:PutObject'],
      resources: [storage.bucket.arnForObjects(`${CONTINUATIONS_PREFIX}*`)],
    }),
  );
  acknowledgePrefix(role, storage, CONTINUATIONS_PREFIX, 'the worker');
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['lambda:InvokeFunction'],
      resources: [functionArnByName(worker, resourceNames(config).orchestrator)],
    }),
  );
}

/** A function's unqualified ARN, by name: never a version or an alias (and no reference to the function). */
function functionArnByName(scope: IFunction, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'lambda',
    resource: 'function',
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * The orchestrator sends task batches to the queue (and invalid or failed tasks to the dead-letter queue),
 * invokes the worker and itself (continuations), keeps idempotency records (one per segment), starts runs
 * and settles segments in the job ledger, reads manifests, and writes results and oversized continuations.
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
  const self = functionArnByName(orchestrator, resourceNames(config).orchestrator);
  role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [worker.functionArn, self] }),
  );
  storage.idempotencyTable.grant(role, ...IDEMPOTENCY_ACTIONS);
  grantLedger(role, LEDGER_ACTIONS.orchestrator, props);
  grantBucket(role, props);
  grantSecretReads(role, config.secrets);
}

/**
 * The job table with `actions`, and the Run Finished event: whoever ends a run puts it on the account's
 * default bus, with our source only (PutEvents checks `events:source` per entry).
 */
function grantLedger(role: IRole, actions: readonly string[], { config, storage }: GrantProps): void {
  storage.jobTable.grant(role, ...actions);
  if (Object.values(config.downstream).some((limits) => limits.shared === true)) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: LEASE_ACTIONS,
        resources: [storage.jobTable.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [LEASE_KEYS] } },
      }),
    );
  }
  const defaultBus = Stack.of(role).formatArn({
    service: 'events',
    resource: 'event-bus',
    resourceName: RUN_FINISHED_EVENT.eventBusName,
  });
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [defaultBus],
      conditions: { StringEquals: { 'events:source': RUN_FINISHED_EVENT.source } },
    }),
  );
}

/**
 * The worker's share of a run's result: it writes the parts of the tasks it settled, and the one that ends a
 * run lists and reads the parts and writes the result object, all under the results prefix.
 */
function grantResults(role: IRole, { config, storage }: GrantProps): void {
  const results = storage.bucket.arnForObjects(`${config.resultsPrefix}*`);
  role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [results] }),
  );
  role.addToPrincipalPolicy(listResults(config, storage));
  acknowledgePrefix(role, storage, config.resultsPrefix, 'the worker');
}

/** Listing is needed to gather a result's parts; only under the results prefix. */
function listResults({ resultsPrefix }: FanoutConfig, storage: FanoutStorage): PolicyStatement {
  return new PolicyStatement({
    actions: ['s3:ListBucket'],
    resources: [storage.bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': [`${resultsPrefix}*`] } },
  });
}

function acknowledgePrefix(role: IRole, storage: FanoutStorage, prefix: string, who: string): void {
  const bucket = storage.bucket;
  const bucketId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnBucket);
  Validations.of(role).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
    reason: `S3 scopes object permissions by key prefix: ${who}'s objects are those under "${prefix}".`,
  });
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
  role.addToPrincipalPolicy(listResults(config, storage));
  for (const prefix of new Set([manifestsPrefix, resultsPrefix, CONTINUATIONS_PREFIX])) {
    acknowledgePrefix(role, storage, prefix, 'the orchestrator');
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
