// Issue 14 item 2: the stack grants read on exactly the secrets and parameters config.secrets names (a
// prefix each, never `*`), to both functions (each runs tasks), KMS decryption only through those services
// and for those names, and cdk-nag passes with each wildcard acknowledged by its exact finding.
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBudget } from '../../lib/budget/budget.js';
import { withDefaults } from '../../lib/config.js';
import { readConfig } from '../../lib/read-config.js';
import { SecretsConfigMessages } from '../../lib/secrets-config.js';
import { type Synthesized, synthesize } from './synthesize.js';
import { type Json, roleStatements } from './template-reading.js';

/** Prefixes of their own, so each ARN below provably comes from the config. */
const config = withDefaults({
  secrets: { secretsManagerPrefix: 'team-a/partners/', ssmPrefix: '/team-a/partners/', maxAgeSeconds: 60 },
});

let synth: Synthesized;
let template: Template;
beforeAll(() => {
  synth = synthesize(config);
  template = synth.template;
});
afterAll(() => synth?.dispose());

const arn = (service: string, resource: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      `:${service}:`,
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:${resource}`,
    ],
  ],
});
const secretArns = arn('secretsmanager', 'secret:team-a/partners/*');
const parameterArns = arn('ssm', 'parameter/team-a/partners/*');
const keys = arn('kms', 'key/*');

const statementsOf = (functionPart: string) => roleStatements(template, functionPart);

/** Every statement that allows a Secrets Manager, SSM or KMS action. */
const secretStatements = (functionPart: string) =>
  statementsOf(functionPart).filter((s) =>
    [s.Action].flat().some((a: string) => /^(secretsmanager|ssm|kms):/.test(a)),
  );

describe('secret grants', () => {
  it.each(['Worker', 'Orchestrator'])('the %s reads the configured prefixes and nothing else', (fn) => {
    expect(secretStatements(fn)).toEqual([
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: secretArns },
      { Action: 'ssm:GetParameter', Effect: 'Allow', Resource: parameterArns },
      {
        Action: 'kms:Decrypt',
        Effect: 'Allow',
        Resource: keys,
        Condition: {
          StringEquals: {
            'kms:ViaService': {
              'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
            },
          },
          StringLike: { 'kms:EncryptionContext:SecretARN': secretArns },
        },
      },
      {
        Action: 'kms:Decrypt',
        Effect: 'Allow',
        Resource: keys,
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
          StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': parameterArns },
        },
      },
    ]);
  });

  it('never grants a secret, parameter or key action on "*"', () => {
    const all = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Json[],
    );
    const onStar = all.filter(
      (s) =>
        [s.Action].flat().some((a: string) => /^(secretsmanager|ssm|kms):/.test(a)) &&
        [s.Resource].flat().includes('*'),
    );
    expect(onStar).toEqual([]);
  });

  it('passes cdk-nag, each wildcard acknowledged by its exact finding', () => {
    const [nag] = synth.report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
    expect(nag.conclusion).toBe('success');
    expect(nag.violations).toEqual([]);
    const acknowledged = (nag.suppressedViolations ?? []).map((v) => v.acknowledgedId);
    for (const resource of [
      'arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:team-a/partners/*',
      'arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/team-a/partners/*',
      'arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*',
    ]) {
      expect(
        acknowledged.filter((id) => id === `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`),
      ).toHaveLength(2);
    }
  });
});

describe('config.secrets', () => {
  it('lists every problem of the group with the rest, and never takes a wildcard or the whole store', () => {
    const problems = checkBudget(
      withDefaults({ secrets: { secretsManagerPrefix: '*', ssmPrefix: '/', maxAgeSeconds: -1 } }),
    ).map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual([
      `secrets.secretsManagerPrefix: ${SecretsConfigMessages.SECRETS_MANAGER_PREFIX}`,
      `secrets.ssmPrefix: ${SecretsConfigMessages.SSM_PREFIX}`,
      'secrets.maxAgeSeconds: is below 0',
    ]);
    expect(
      checkBudget(
        withDefaults({ secrets: { secretsManagerPrefix: '', ssmPrefix: 'no-slash/', maxAgeSeconds: 1.5 } }),
      ).map((p) => p.path),
    ).toEqual(['secrets.secretsManagerPrefix', 'secrets.ssmPrefix', 'secrets.maxAgeSeconds']);
  });

  it('reads from CDK context whole or field by field, over the defaults', () => {
    const context: Record<string, unknown> = {
      secrets: { ssmPrefix: '/ops/' },
      'secrets.maxAgeSeconds': '30',
    };
    expect(readConfig((key) => context[key]).secrets).toEqual({
      secretsManagerPrefix: 'bounded-fanout/',
      ssmPrefix: '/ops/',
      maxAgeSeconds: 30,
    });
  });
});
