// Read on exactly the secrets and parameters the config names (config.secrets, a prefix each, never `*`):
// both functions run tasks (the orchestrator its inline ones), so both may resolve a task's references. KMS
// decryption is granted only through those two services and only for those names (the encryption context
// each service sets), for secrets and parameters encrypted with a customer managed key; AWS managed keys
// need no grant of their own.
import { ArnFormat, Aws, Stack, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { SecretsConfig } from '../lib/secrets-config.js';

export function grantSecretReads(role: IRole, secrets: SecretsConfig): void {
  const stack = Stack.of(role);
  const secretArns = stack.formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secrets.secretsManagerPrefix}*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  // A parameter's ARN drops the leading slash of its name: /bounded-fanout/x is parameter/bounded-fanout/x.
  const parameterArns = stack.formatArn({
    service: 'ssm',
    resource: 'parameter',
    resourceName: `${secrets.ssmPrefix.replace(/^\//, '')}*`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
  const keys = stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' });
  role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArns] }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['ssm:GetParameter'], resources: [parameterArns] }),
  );
  const via = (service: string, contextKey: string, arns: string) =>
    new PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [keys],
      conditions: {
        StringEquals: { 'kms:ViaService': `${service}.${Aws.REGION}.amazonaws.com` },
        StringLike: { [`kms:EncryptionContext:${contextKey}`]: arns },
      },
    });
  role.addToPrincipalPolicy(via('secretsmanager', 'SecretARN', secretArns));
  role.addToPrincipalPolicy(via('ssm', 'PARAMETER_ARN', parameterArns));
  const finding = (resource: string) => `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`;
  const arn = (service: string, rest: string) =>
    `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${rest}`;
  Validations.of(role).acknowledge(
    {
      id: finding(arn('secretsmanager', `secret:${secrets.secretsManagerPrefix}*`)),
      reason: `Secret references: the secrets under secrets.secretsManagerPrefix "${secrets.secretsManagerPrefix}" only (their ARNs end in a random suffix).`,
    },
    {
      id: finding(arn('ssm', `parameter/${secrets.ssmPrefix.replace(/^\//, '')}*`)),
      reason: `Secret references: the parameters under secrets.ssmPrefix "${secrets.ssmPrefix}" only.`,
    },
    {
      id: finding(arn('kms', 'key/*')),
      reason:
        'Decrypt only through Secrets Manager and SSM (kms:ViaService) and only for the secrets and parameters under the configured prefixes (kms:EncryptionContext), whichever customer managed key encrypts them.',
    },
  );
}
