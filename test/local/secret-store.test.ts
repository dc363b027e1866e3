// The local endpoint's Secrets Manager and Parameter Store routes (local/secret-store.ts behind local/edge.ts),
// spoken to by the real SDK clients as the functions do, and the `--secrets` flag of run and serve.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../local/cli/args.js';
import { Edge } from '../../local/edge.js';
import { SecretStore } from '../../local/secret-store.js';

let edge: Edge;
let secrets: SecretsManagerClient;
let ssm: SSMClient;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

beforeAll(async () => {
  edge = await Edge.start({
    upstreams: {},
    listen: { host: '127.0.0.1', port: 0 },
    secretStore: new SecretStore({ 'bounded-fanout/a': 'value-a', '/bounded-fanout/p': 'value-p' }),
  });
  secrets = new SecretsManagerClient({
    endpoint: edge.url,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
  });
  ssm = new SSMClient({ endpoint: edge.url, region: 'us-east-1', credentials, maxAttempts: 1 });
});

afterAll(async () => {
  secrets?.destroy();
  ssm?.destroy();
  await edge?.close();
});

describe('the local secret store', () => {
  it('answers GetSecretValue by name, by ARN and by ARN with the random suffix', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bounded-fanout/a';
    for (const SecretId of ['bounded-fanout/a', arn, `${arn}-AbC123`]) {
      const out = await secrets.send(new GetSecretValueCommand({ SecretId }));
      expect(out).toMatchObject({
        SecretString: 'value-a',
        Name: 'bounded-fanout/a',
        VersionStages: ['AWSCURRENT'],
      });
    }
    expect(edge.secretStore.calls.GetSecretValue).toBe(3);
  });

  it('answers GetParameter as a SecureString', async () => {
    const out = await ssm.send(new GetParameterCommand({ Name: '/bounded-fanout/p', WithDecryption: true }));
    expect(out.Parameter).toMatchObject({
      Name: '/bounded-fanout/p',
      Type: 'SecureString',
      Value: 'value-p',
    });
  });

  it("answers a missing name with the service's own error class", async () => {
    await expect(
      secrets.send(new GetSecretValueCommand({ SecretId: 'bounded-fanout/none' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
    await expect(ssm.send(new GetParameterCommand({ Name: '/bounded-fanout/none' }))).rejects.toMatchObject({
      name: 'ParameterNotFound',
    });
  });

  it('refuses other operations by name', () => {
    expect(edge.secretStore.answer('AmazonSSM.PutParameter', '{}')).toEqual({
      status: 400,
      type: 'UnknownOperationException',
      message: 'The local endpoint answers only GetSecretValue and GetParameter, not AmazonSSM.PutParameter',
    });
  });
});

describe('--secrets', () => {
  it('is taken by run and serve, and refused with --endpoint (the serve holds the values)', () => {
    expect(parseCliArgs(['run', '--secrets', 's.json'])).toMatchObject({ command: 'run', secrets: 's.json' });
    expect(parseCliArgs(['serve', '--secrets', 's.json'])).toMatchObject({
      command: 'serve',
      secrets: 's.json',
    });
    expect(() => parseCliArgs(['run', '--secrets', 's.json', '--endpoint', 'http://127.0.0.1:4566'])).toThrow(
      '--secrets and --endpoint cannot be used together: give --secrets to the serve',
    );
  });
});
