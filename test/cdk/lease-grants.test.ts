// The lease store's grants (issue 17): with a host declared `shared: true`, both functions hold leases
// (lib/aws/lease-table.ts: a consistent Query of the host's lease partition, a holder's Delete at its version),
// so both may Query and DeleteItem on the job table, and only under lease keys; without one, neither gets
// them (test/cdk/job-table.test.ts pins the exact ledger actions). Before this grant a shared host in AWS
// failed every lease call with AccessDenied and ran on the static share for good.
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leasePartition } from '../../lib/aws/lease-table.js';
import { withDefaults } from '../../lib/config.js';
import { type Synthesized, synthesize } from './synthesize.js';
import { logicalIdOf, roleStatements } from './template-reading.js';

const config = withDefaults({
  prefix: 'leases',
  downstream: { 'partner.example.com': { maxConcurrency: 12, shared: true } },
});

let synth: Synthesized;
let template: Template;
beforeAll(() => {
  synth = synthesize(config);
  template = synth.template;
});
afterAll(() => synth?.dispose());

const only = (type: string, pathPart: string) => logicalIdOf(template, type, pathPart);
const statementsOf = (functionPart: string) => roleStatements(template, functionPart);

describe('the lease grants, with a shared host', () => {
  it('give both functions Query and DeleteItem on the job table, under lease keys only', () => {
    const jobTable = { 'Fn::GetAtt': [only('AWS::DynamoDB::Table', 'StorageJobs'), 'Arn'] };
    for (const part of ['Worker', 'Orchestrator']) {
      const leases = statementsOf(part).filter((s) => s.Condition?.['ForAllValues:StringLike']);
      expect(leases).toEqual([
        {
          Action: ['dynamodb:Query', 'dynamodb:DeleteItem'],
          Effect: 'Allow',
          Resource: jobTable,
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['lease#*'] } },
        },
      ]);
    }
    // The keys the store writes are the keys the condition names.
    expect(leasePartition('partner.example.com')).toMatch(/^lease#/);
  });

  it('let the worker delete nothing else in DynamoDB but idempotency records', () => {
    const idempotency = { 'Fn::GetAtt': [only('AWS::DynamoDB::Table', 'Idempotency'), 'Arn'] };
    const deletes = statementsOf('Worker').filter(
      (s) => [s.Action].flat().includes('dynamodb:DeleteItem') && !s.Condition,
    );
    expect(deletes.map((s) => s.Resource)).toEqual([[idempotency]]);
  });

  it('passes cdk-nag', () => {
    const [nag] = synth.report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
    expect(nag.conclusion).toBe('success');
    expect(nag.violations).toEqual([]);
  });
});
