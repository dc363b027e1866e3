// The data bucket (manifests in, results out), the idempotency table and the job table (the run ledger).
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  CONTINUATIONS_PREFIX,
  type FanoutConfig,
  idempotencyTableAttributes,
  jobTableAttributes,
  resourceNames,
} from '../lib/config.js';

export class FanoutStorage extends Construct {
  readonly bucket: Bucket;
  readonly idempotencyTable: Table;
  readonly jobTable: Table;

  constructor(scope: Construct, id: string, config: FanoutConfig) {
    super(scope, id);
    // No fixed name: bucket names are global, so CloudFormation makes one up; the functions get it from their
    // environment and the schedule's input from BUCKET_PLACEHOLDER.
    this.bucket = new Bucket(this, 'Data', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Manifests and results are the user's data: `cdk destroy` leaves the bucket (docs/deploy.md: tear down).
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-results',
          prefix: config.resultsPrefix,
          expiration: Duration.days(config.resultsRetentionDays),
        },
        // A continuation's stashed manifest is read by the job's next invocation, then only takes space.
        {
          id: 'expire-continuations',
          prefix: CONTINUATIONS_PREFIX,
          expiration: Duration.days(config.resultsRetentionDays),
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason:
        'Server access logs would need a second bucket of their own; object-level access is audited with CloudTrail data events where an account wants it.',
    });

    this.idempotencyTable = new Table(this, 'Idempotency', {
      tableName: resourceNames(config).idempotencyTable,
      partitionKey: { name: idempotencyTableAttributes.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: idempotencyTableAttributes.timeToLive,
      billingMode: BillingMode.PAY_PER_REQUEST,
      // Encrypted at rest with an AWS owned key: DynamoDB's default, without KMS request charges.
      encryption: TableEncryption.DEFAULT,
      // Records live for idempotencyTtlSeconds and hold no data of their own: nothing to keep on teardown.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.idempotencyTable).acknowledge({
      id: 'AwsSolutions::AwsSolutions-DDB3',
      reason:
        'Idempotency records expire within idempotencyTtlSeconds and are rebuilt by running again; restoring old in-progress records would only block tasks, so point-in-time recovery has nothing to recover.',
    });
    this.jobTable = jobTable(this, config);
  }
}

/**
 * One record per run (lib/ledger/run-record.ts) and the markers of what it has settled, under the keys of
 * jobTableAttributes; finished runs expire by TTL. The store (lib/aws/job-ledger-table.ts) owns the item layout.
 */
function jobTable(scope: Construct, config: FanoutConfig): Table {
  return new Table(scope, 'Jobs', {
    tableName: resourceNames(config).jobTable,
    partitionKey: { name: jobTableAttributes.partitionKey, type: AttributeType.STRING },
    sortKey: { name: jobTableAttributes.sortKey, type: AttributeType.STRING },
    timeToLiveAttribute: jobTableAttributes.timeToLive,
    billingMode: BillingMode.PAY_PER_REQUEST,
    // An AWS owned key, as for the idempotency table: encrypted at rest with no KMS key to pay for, grant or
    // audit; the records hold statuses, counts and limits (the tasks and their errors go to S3).
    encryption: TableEncryption.DEFAULT,
    // The records are the only account of how a run went (a failed or cancelled run may leave no result
    // object): recover them after a bad write or a deleted item, and keep them on `cdk destroy`.
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.RETAIN,
  });
}
