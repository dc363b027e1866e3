import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { NODE_RUNTIME } from '../../cdk/functions.js';
import { BoundedFanoutStack } from '../../cdk/stack.js';
import { BudgetError } from '../../lib/budget/index.js';
import { defaultConfig, EnvVars, functionConfig, toEnvironment, withDefaults } from '../../lib/config.js';
import { fixtureHandler, type Synthesized, synthesize } from './synthesize.js';

const topicArn = 'arn:aws:sns:us-east-1:123456789012:fanout-alarms';
/** Every value differs from the defaults, so each assertion proves the value came from the config. */
const configured = withDefaults({
  prefix: 'nightly',
  workerMaxConcurrency: 12,
  workerReservedConcurrency: 20,
  batchSize: 8,
  maxBatchingWindowSeconds: 2,
  workerTimeoutSeconds: 70,
  visibilityTimeoutSeconds: 420,
  maxReceiveCount: 7,
  orchestratorTimeoutSeconds: 600,
  orchestratorMemoryMb: 256,
  workerMemoryMb: 1024,
  logRetentionDays: 14,
  resultsRetentionDays: 7,
  schedule: {
    expression: 'cron(0 2 * * ? *)',
    timeZone: 'Europe/Paris',
    enabled: true,
    flexibleWindowMinutes: 10,
    input: { manifest: 's3://REPLACE-WITH-BUCKET/manifests/nightly.ndjson' },
    overlap: 'forbid',
  },
  downstream: { 'api.example.com': { maxConcurrency: 500 } },
  alarmTopicArn: topicArn,
});

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by shape in each assertion
type Json = Record<string, any>;
type Resources = Record<string, { Type: string; Properties: Json }>;

let synth: Synthesized;
let template: Template;
let resources: Resources;
const logicalId = (type: string, pathPart: string) => {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.includes(pathPart));
  expect(ids, `${type} ${pathPart}`).toHaveLength(1);
  return ids[0];
};
const bucket = () => logicalId('AWS::S3::Bucket', 'Data');
/** The ARN of the bucket's objects under `prefix`. */
const objects = (prefix: string) => ({
  'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket(), 'Arn'] }, `/${prefix}*`]],
});
/** Every statement of the inline policies attached to a role. */
const statementsOf = (roleId: string) =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Json[]);
const actionsOf = (roleId: string) =>
  statementsOf(roleId)
    .flatMap((s) => [s.Action].flat())
    .sort();
/** The resources of each statement that allows `action`. */
const resourcesOf = (roleId: string) => (action: string) =>
  statementsOf(roleId)
    .filter((s) => [s.Action].flat().includes(action))
    .map((s) => s.Resource);
const roleOf = (functionPart: string) =>
  resources[logicalId('AWS::Lambda::Function', functionPart)].Properties.Role['Fn::GetAtt'][0];

beforeAll(() => {
  // The one synth that bundles (the fixture handler, through the same esbuild options as the real ones).
  synth = synthesize(configured, { bundle: true });
  template = synth.template;
  resources = template.toJSON().Resources;
});
afterAll(() => synth?.dispose());

/** The orchestrator's unqualified ARN, by name: what a role that invokes it is granted. */
const orchestratorByName = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':lambda:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':function:nightly-orchestrator',
    ],
  ],
};
describe('the functions', () => {
  it('run on the newest Node.js runtime aws-cdk-lib offers, on arm64', () => {
    const newest = Object.entries(Runtime)
      .filter(([name]) => /^NODEJS_\d+_X$/.test(name))
      .map(([, runtime]) => (runtime as Runtime).name)
      .sort((a, b) => Number.parseInt(b.slice(6), 10) - Number.parseInt(a.slice(6), 10))[0];
    expect(NODE_RUNTIME.name).toBe(newest);
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Runtime: newest, Architectures: ['arm64'], Handler: 'index.handler' },
      2,
    );
  });

  it('take timeouts, memory and concurrency from the config', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'nightly-worker',
      Timeout: 70,
      MemorySize: 1024,
      ReservedConcurrentExecutions: 20,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'nightly-orchestrator',
      Timeout: 600,
      MemorySize: 256,
      ReservedConcurrentExecutions: 1,
      DeadLetterConfig: {
        TargetArn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'OrchestratorDeadLetter'), 'Arn'] },
      },
    });
  });

  it('get the config and the resource wiring through their environment', () => {
    const queue = logicalId('AWS::SQS::Queue', 'WorkQueue');
    const dlq = logicalId('AWS::SQS::Queue', 'QueuesDeadLetterQueue');
    for (const name of ['nightly-worker', 'nightly-orchestrator']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: name,
        Environment: {
          Variables: {
            [EnvVars.CONFIG]: toEnvironment(functionConfig(configured)),
            [EnvVars.QUEUE_URL]: { Ref: queue },
            [EnvVars.DLQ_URL]: { Ref: dlq },
            [EnvVars.IDEMPOTENCY_TABLE]: { Ref: logicalId('AWS::DynamoDB::Table', 'Idempotency') },
            [EnvVars.BUCKET]: { Ref: logicalId('AWS::S3::Bucket', 'Data') },
            [EnvVars.WORKER_FUNCTION]: 'nightly-worker',
            [EnvVars.ORCHESTRATOR_FUNCTION]: 'nightly-orchestrator',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
    }
  });

  it('log to their own log group, with the configured retention', () => {
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 14 }, 2);
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/lambda/nightly-worker' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'nightly-worker',
      LoggingConfig: { LogGroup: { Ref: logicalId('AWS::Logs::LogGroup', 'WorkerLogs') } },
    });
  });

  it('are bundled by the local esbuild as ESM with source maps', () => {
    const key: string = resources[logicalId('AWS::Lambda::Function', 'Worker')].Properties.Code.S3Key;
    const asset = join(synth.outdir, `asset.${key.replace(/\.zip$/, '')}`);
    expect(readdirSync(asset).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = readFileSync(join(asset, 'index.mjs'), 'utf8');
    expect(code.startsWith("import { createRequire as __bfCreateRequire } from 'node:module';")).toBe(true);
    expect(code).toMatch(/sourceMappingURL=index\.mjs\.map/);
    expect(JSON.parse(readFileSync(join(asset, 'index.mjs.map'), 'utf8')).sources).toEqual([
      expect.stringContaining('test/cdk/fixtures/handler.ts'),
    ]);
  });

  it('retry a failed asynchronous orchestrator invocation, then keep its event and tell the worker', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId('AWS::Lambda::Function', 'Orchestrator') },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      // The worker breaks the run (functions/orchestrator-failure.ts); the DLQ keeps the event too.
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', 'Worker'), 'Arn'] } },
      },
    });
  });
});

describe('the queues', () => {
  it('encrypt with SQS-managed keys and refuse anything but TLS', () => {
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { SqsManagedSseEnabled: true }, 3);
    template.resourceCountIs('AWS::SQS::Queue', 3);
    template.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      3,
    );
  });

  it('redrive to the dead-letter queue after maxReceiveCount, with six times the worker timeout to finish', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'nightly-work',
      VisibilityTimeout: 420,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'QueuesDeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 7,
      },
    });
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600 }, 2);
  });

  it('feed the worker with partial batch responses, the configured batch and maximum concurrency', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId('AWS::Lambda::Function', 'Worker') },
      EventSourceArn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'WorkQueue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 8,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 12 },
    });
  });
});

describe('the storage', () => {
  it('keeps manifests and results encrypted, private, TLS only, and results expiring', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          { Id: 'expire-results', Prefix: 'results/', ExpirationInDays: 7, Status: 'Enabled' },
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('keeps idempotency records on demand, expiring by TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'nightly-idempotency',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });
});

describe('the grants', () => {
  it('never use a * action, and * resources only in S3 object ARNs under the two prefixes', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as Json[],
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      for (const action of [statement.Action].flat()) expect(action).not.toContain('*');
      for (const resource of [statement.Resource].flat()) {
        const text = JSON.stringify(resource);
        if (!text.includes('*')) continue;
        // Or the secret references' prefixes (config.secrets) and, with kms:ViaService and the encryption
        // context of those names, KMS keys (test/cdk/secret-grants.test.ts pins those statements whole).
        expect(text).toMatch(
          /"(\/(manifests|results|continuations)\/\*|:secret:bounded-fanout\/\*|:parameter\/bounded-fanout\/\*|:key\/\*)"\]\]\}$/,
        );
        if (text.includes(':key/*')) expect(statement.Condition.StringEquals['kms:ViaService']).toBeDefined();
      }
    }
    template.resourcePropertiesCountIs('AWS::IAM::Role', { ManagedPolicyArns: Match.anyValue() }, 0);
  });

  it('let the worker consume the queue, use its tables, hand failed tasks on and write results, nothing else', () => {
    const role = roleOf('Worker');
    // The job ledger's actions (test/cdk/job-table.test.ts checks their resources) and the results prefix.
    expect(actionsOf(role)).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      'kms:Decrypt',
      'kms:Decrypt',
      // As the orchestrator's on-failure destination: send a settled segment's next segment again.
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
      's3:PutObject',
      'secretsmanager:GetSecretValue',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
      'ssm:GetParameter',
    ]);
    const on = resourcesOf(role);
    expect(on('dynamodb:PutItem')).toEqual([
      [{ 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'Idempotency'), 'Arn'] }],
      [{ 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'StorageJobs'), 'Arn'] }],
    ]);
    // The task records' batch calls, on the idempotency table alone.
    for (const action of ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem']) {
      expect(on(action)).toEqual([
        [{ 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'Idempotency'), 'Arn'] }],
      ]);
    }
    // Retries (only the failed tasks of a message) go back to the work queue, the dead ones to the DLQ.
    expect(on('sqs:SendMessage')).toEqual([
      [
        { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'WorkQueue'), 'Arn'] },
        { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'QueuesDeadLetterQueue'), 'Arn'] },
      ],
    ]);
    expect(on('sqs:ReceiveMessage')).toEqual([
      { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'WorkQueue'), 'Arn'] },
    ]);
    // The orchestrator alone, unqualified, by name.
    expect(on('lambda:InvokeFunction')).toEqual([orchestratorByName]);
    // Results; and, as the on-failure destination, an inline job too large for an event kept for its next segment.
    expect(on('s3:PutObject')).toEqual([objects('results/'), objects('continuations/')]);
  });

  it('let the orchestrator send to the queues, invoke itself and the worker, read manifests and write results', () => {
    const role = roleOf('Orchestrator');
    const on = resourcesOf(role);
    const queue = (part: string) => ({ 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', part), 'Arn'] });
    expect(actionsOf(role)).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'dynamodb:UpdateItem',
      'events:PutEvents',
      'kms:Decrypt',
      'kms:Decrypt',
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
      'secretsmanager:GetSecretValue',
      'sqs:SendMessage',
      'sqs:SendMessage',
      'ssm:GetParameter',
    ]);
    expect(on('sqs:SendMessage')).toEqual([
      queue('OrchestratorDeadLetter'), // Lambda's own dead-letter queue for failed asynchronous invocations
      [queue('WorkQueue'), queue('QueuesDeadLetterQueue')],
    ]);
    expect(on('lambda:InvokeFunction')).toEqual([
      [{ 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', 'Worker'), 'Arn'] }, orchestratorByName],
    ]);
    expect(on('s3:GetObject')).toEqual([
      [objects('manifests/'), objects('results/'), objects('continuations/')],
    ]);
    expect(on('s3:PutObject')).toEqual([[objects('results/'), objects('continuations/')]]);
    expect(statementsOf(role).find((s) => s.Action === 's3:ListBucket')).toMatchObject({
      Resource: { 'Fn::GetAtt': [bucket(), 'Arn'] },
      Condition: { StringLike: { 's3:prefix': ['results/*'] } },
    });
    expect(on('dynamodb:UpdateItem')).toEqual([
      [{ 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'Idempotency'), 'Arn'] }],
      [{ 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'StorageJobs'), 'Arn'] }],
    ]);
  });
});

describe('the schedule', () => {
  it('invokes the orchestrator with the configured input, time zone, window, retries and dead-letter queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'nightly-schedule',
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 10 },
      Target: {
        Arn: { 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', 'Orchestrator'), 'Arn'] },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'OrchestratorDeadLetter'), 'Arn'] },
        },
        RetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 900 },
        // The placeholder became the stack's own bucket.
        Input: { 'Fn::Join': ['', ['{"manifest":"s3://', { Ref: bucket() }, '/manifests/nightly.ndjson"}']] },
      },
    });
  });

  it("has a role that may invoke the orchestrator (unqualified) and send to the target's dead-letter queue", () => {
    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0];
    const role = schedule.Properties.Target.RoleArn['Fn::GetAtt'][0];
    expect(statementsOf(role)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalId('AWS::Lambda::Function', 'Orchestrator'), 'Arn'] },
      },
      {
        Action: 'sqs:SendMessage',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalId('AWS::SQS::Queue', 'OrchestratorDeadLetter'), 'Arn'] },
      },
    ]);
  });
});

describe('the alarms', () => {
  it('watch both dead-letter queues and worker throttles, and notify the configured topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    const alarm = (name: string, metric: Record<string, unknown>) =>
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: name,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        AlarmActions: [topicArn],
        TreatMissingData: 'notBreaching',
        ...metric,
      });
    const queueName = (part: string) => ({
      'Fn::GetAtt': [logicalId('AWS::SQS::Queue', part), 'QueueName'],
    });
    alarm('nightly-dead-letters', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: queueName('QueuesDeadLetterQueue') }],
    });
    alarm('nightly-orchestrator-dead-letters', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: queueName('OrchestratorDeadLetter') }],
    });
    alarm('nightly-worker-throttles', {
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId('AWS::Lambda::Function', 'Worker') } }],
    });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged, and every acknowledgement has a reason and a finding', () => {
    const [nag] = synth.report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
    expect(nag.conclusion).toBe('success');
    expect(nag.violations).toEqual([]);
    const acknowledged = nag.suppressedViolations ?? [];
    expect(acknowledged.map((v) => v.ruleName).sort()).toEqual([
      'AwsSolutions-DDB3',
      // The orchestrator's, and the worker's (an oversized inline job's next segment: orchestrator-failure.ts).
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/continuations\/\*\]$/),
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/continuations\/\*\]$/),
      // The orchestrator's, and the worker's (a failed first segment's header: functions/orchestrator-failure.ts).
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/manifests\/\*\]$/),
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/manifests\/\*\]$/),
      // The orchestrator's and the worker's (result parts and the result object).
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/results\/\*\]$/),
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/results\/\*\]$/),
      // Secret references, each function's (test/cdk/secret-grants.test.ts).
      ...['kms', 'kms', 'secretsmanager', 'secretsmanager', 'ssm', 'ssm'].map((service) =>
        expect.stringMatching(new RegExp(`^AwsSolutions-IAM5\\[Resource::arn:<AWS::Partition>:${service}:`)),
      ),
      'AwsSolutions-S1',
    ]);
    for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(40);
    // No acknowledgement in the tree that no finding needed.
    const recorded = synth.app.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.keys(m.data as object));
    expect(recorded.sort()).toEqual(acknowledged.map((v) => v.acknowledgedId).sort());
  });

  it('fails the synth on a finding nobody acknowledged (a queue without TLS or a DLQ)', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'bf-nag-'));
    try {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new BoundedFanoutStack(app, 'Fanout', {
        config: defaultConfig,
        entries: { orchestrator: fixtureHandler, worker: fixtureHandler },
      });
      new Queue(stack, 'Careless');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
      const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
      const rules = report.pluginReports[0].violations.map((v: { ruleName: string }) => v.ruleName).sort();
      expect(rules).toEqual(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('the default config', () => {
  it('synthesizes without an alarm topic or a time window, the schedule disabled', () => {
    const defaults = synthesize(defaultConfig);
    try {
      const t = defaults.template;
      t.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: 'bounded-fanout-schedule',
        State: 'DISABLED',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ScheduleExpression: 'rate(5 minutes)',
        ScheduleExpressionTimezone: 'UTC',
      });
      t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: Match.anyValue() }, 0);
      t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: 1,
        ScalingConfig: { MaximumConcurrency: 10 },
      });
      t.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: 'bounded-fanout-worker',
        ReservedConcurrentExecutions: 14,
      });
      expect(defaults.report.pluginReports[0].violations).toEqual([]);
      expect(Object.keys(t.toJSON().Outputs).sort()).toEqual([
        'BucketName',
        'DeadLetterQueueArn',
        'DeadLetterQueueUrl',
        'IdempotencyTableName',
        'JobTableName',
        'OrchestratorDeadLetterQueueUrl',
        'OrchestratorName',
        'QueueUrl',
        'ScheduleName',
        'WorkerName',
      ]);
    } finally {
      defaults.dispose();
    }
  });

  it('leaves out a batching window of 0 and a reservation of "none", and grants exactly the scheduled manifest kept elsewhere', () => {
    const schedule = {
      ...defaultConfig.schedule,
      input: { manifest: 's3://partner-drops/exports/nightly.ndjson' },
    };
    const other = synthesize(
      withDefaults({
        maxBatchingWindowSeconds: 0,
        schedule,
        // An account whose quota leaves nothing to reserve (a new one: 10): no reservation at all.
        workerReservedConcurrency: 'none',
        orchestratorReservedConcurrency: 'none',
      }),
    );
    try {
      const t = other.template;
      // No ReservedConcurrentExecutions on either function (never 0, which would throttle everything)...
      const functions = Object.values(t.findResources('AWS::Lambda::Function'));
      expect(functions.map((f) => f.Properties.FunctionName).sort()).toEqual([
        'bounded-fanout-orchestrator',
        'bounded-fanout-worker',
      ]);
      for (const fn of functions) expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
      // ...and the event source's maximum concurrency still bounds the queue path.
      t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        ScalingConfig: { MaximumConcurrency: 10 },
      });
      t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        MaximumBatchingWindowInSeconds: Match.absent(),
      });
      t.hasResourceProperties('AWS::Scheduler::Schedule', {
        Target: { Input: '{"manifest":"s3://partner-drops/exports/nightly.ndjson"}' },
      });
      t.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 's3:GetObject',
              Resource: Match.arrayWith([
                {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':s3:::partner-drops/exports/nightly.ndjson'],
                  ],
                },
              ]),
            }),
          ]),
        },
      });
    } finally {
      other.dispose();
    }
  });
});

describe('a config the budget refuses', () => {
  it('is refused before any resource is made, with every problem', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'bf-refused-'));
    onTestFinished(() => rmSync(outdir, { recursive: true, force: true }));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    let error: unknown;
    try {
      new BoundedFanoutStack(app, 'Refused', {
        config: withDefaults({ workerReservedConcurrency: 5, visibilityTimeoutSeconds: 60 }),
        entries: { orchestrator: fixtureHandler, worker: fixtureHandler },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BudgetError);
    expect((error as BudgetError).problems.map((p) => p.path)).toEqual([
      'workerReservedConcurrency',
      'visibilityTimeoutSeconds',
    ]);
    const stack = app.node.findChild('Refused');
    expect(stack.node.children).toEqual([]);
  });
});
