// The job ledger's infrastructure: the job table, each function's least-privilege grants on it, the Run
// Finished event's grant on the default bus, the worker's result writes, and cdk-nag with all of it.
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvVars, withDefaults } from '../../lib/config.js';
import { RUN_FINISHED_EVENT } from '../../lib/ledger/run-finished-event.js';
import { type Synthesized, synthesize } from './synthesize.js';
import { functionProperties, logicalIdOf, roleStatements } from './template-reading.js';

/** A prefix and a results prefix of their own, so each name and ARN below provably comes from the config. */
const config = withDefaults({ prefix: 'ledger', resultsPrefix: 'out/' });

let synth: Synthesized;
let template: Template;
beforeAll(() => {
  synth = synthesize(config);
  template = synth.template;
});
afterAll(() => synth?.dispose());

const logicalId = (type: string, pathPart: string) => logicalIdOf(template, type, pathPart);
const functionOf = (part: string) => functionProperties(template, part);
const statementsOf = (functionPart: string) => roleStatements(template, functionPart);
const jobTableArn = () => ({ 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'StorageJobs'), 'Arn'] });
/** The statements naming the job table, and every action any statement allows on it. */
const onJobTable = (functionPart: string) => {
  const arn = JSON.stringify(jobTableArn());
  const statements = statementsOf(functionPart).filter((s) => JSON.stringify(s.Resource).includes(arn));
  return { statements, actions: statements.flatMap((s) => [s.Action].flat()).sort() };
};
const defaultBus = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':events:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':event-bus/default',
    ],
  ],
};

describe('the job table', () => {
  it('is keyed pk/sk, on demand, expiring by TTL, encrypted with an AWS owned key, recoverable, retained', () => {
    const tables = template.findResources('AWS::DynamoDB::Table', {
      Properties: { TableName: 'ledger-jobs' },
    });
    expect(Object.values(tables)).toHaveLength(1);
    const [table] = Object.values(tables);
    expect(table.Properties).toEqual({
      TableName: 'ledger-jobs',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      // TableEncryption.DEFAULT: encrypted at rest with an AWS owned key (SSEEnabled true would mean KMS).
      SSESpecification: { SSEEnabled: false },
    });
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  it("is named in both functions' environment and in the outputs", () => {
    for (const part of ['Worker', 'Orchestrator']) {
      expect(functionOf(part).Environment.Variables[EnvVars.JOB_TABLE]).toEqual({
        Ref: logicalId('AWS::DynamoDB::Table', 'StorageJobs'),
      });
    }
    expect(template.toJSON().Outputs.JobTableName).toEqual({
      Value: { Ref: logicalId('AWS::DynamoDB::Table', 'StorageJobs') },
    });
  });
});

describe('the ledger grants', () => {
  it('give the orchestrator exactly Get, Put, Update, Query and ConditionCheck on the job table alone', () => {
    const { statements, actions } = onJobTable('Orchestrator');
    expect(actions).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    for (const s of statements)
      expect(s).toEqual({ Action: s.Action, Effect: 'Allow', Resource: [jobTableArn()] });
  });

  it('give the worker exactly Get, Put, Update and ConditionCheck on the job table: no Query, Scan or Delete', () => {
    const { statements, actions } = onJobTable('Worker');
    expect(actions).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    for (const s of statements)
      expect(s).toEqual({ Action: s.Action, Effect: 'Allow', Resource: [jobTableArn()] });
  });

  it('give neither function a dynamodb wildcard, nor any table action on anything but its two tables', () => {
    const idempotency = { 'Fn::GetAtt': [logicalId('AWS::DynamoDB::Table', 'Idempotency'), 'Arn'] };
    const tables = [jobTableArn(), idempotency];
    for (const part of ['Worker', 'Orchestrator']) {
      const dynamo = statementsOf(part).filter((s) =>
        [s.Action].flat().some((a: string) => a.startsWith('dynamodb:')),
      );
      expect(dynamo.length).toBeGreaterThan(0);
      for (const s of dynamo) {
        for (const action of [s.Action].flat()) {
          expect(action).not.toMatch(/\*|Scan|Transact|PartiQL/);
          // Batch calls: the worker's task records only (lib/aws/task-records.ts), on the idempotency table.
          if (/Batch/.test(action)) {
            expect([part, action, s.Resource]).toEqual([
              'Worker',
              expect.stringMatching(/^dynamodb:Batch(Get|Write)Item$/),
              [idempotency],
            ]);
          }
        }
        expect(s.Resource).toHaveLength(1);
        expect(tables).toContainEqual(s.Resource[0]);
      }
    }
  });

  it('let both functions put events on the default bus only, with the source bounded-fanout only', () => {
    for (const part of ['Worker', 'Orchestrator']) {
      const events = statementsOf(part).filter((s) =>
        [s.Action].flat().some((a: string) => a.startsWith('events:')),
      );
      expect(events).toEqual([
        {
          Action: 'events:PutEvents',
          Effect: 'Allow',
          Resource: defaultBus,
          Condition: { StringEquals: { 'events:source': 'bounded-fanout' } },
        },
      ]);
    }
    expect(RUN_FINISHED_EVENT).toEqual({
      source: 'bounded-fanout',
      detailType: 'Run Finished',
      eventBusName: 'default',
    });
  });

  it('let the worker read and write objects under the results prefix and list it, read manifests, keep continuations, nothing else in S3', () => {
    const bucket = logicalId('AWS::S3::Bucket', 'Data');
    const s3 = statementsOf('Worker').filter((s) =>
      [s.Action].flat().some((a: string) => a.startsWith('s3:')),
    );
    expect(s3).toEqual([
      {
        Action: ['s3:GetObject', 's3:PutObject'],
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/out/*']] },
      },
      {
        Action: 's3:ListBucket',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [bucket, 'Arn'] },
        Condition: { StringLike: { 's3:prefix': ['out/*'] } },
      },
      // A failed first segment's manifest header, to name its run (functions/orchestrator-failure.ts).
      {
        Action: 's3:GetObject',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/manifests/*']] },
      },
      // A settled segment's next one sent again, an inline job too large for an event kept first (the same file).
      {
        Action: 's3:PutObject',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/continuations/*']] },
      },
    ]);
  });
});

describe('cdk-nag with the ledger', () => {
  it('passes, acknowledging only the results prefix for the worker (and no DDB3 for the job table)', () => {
    const [nag] = synth.report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
    expect(nag.conclusion).toBe('success');
    expect(nag.violations).toEqual([]);
    const acknowledged = (nag.suppressedViolations ?? []).map((v) => v.ruleName);
    expect(acknowledged.filter((rule) => rule.includes('/out/*'))).toEqual([
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/out\/\*\]$/),
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<StorageData\w+\.Arn>\/out\/\*\]$/),
    ]);
    // DDB3 (point-in-time recovery) is acknowledged for the idempotency table only.
    expect(acknowledged.filter((rule) => rule === 'AwsSolutions-DDB3')).toHaveLength(1);
  });
});
