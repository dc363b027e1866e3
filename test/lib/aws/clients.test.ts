// createAwsClients against the embedded emulators (fauxqs for SQS and S3, dynalite for DynamoDB, a counting
// server playing the Lambda Invoke route), through the real AWS SDK. Sockets are counted on the emulator
// side by a TCP proxy in front of each emulator.
import type { Server } from 'node:http';
import net from 'node:net';
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ListQueuesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CountingProxy,
  createTally,
  startCountingProxy,
  startCountingServer,
} from '../../../bench/servers/counting-server.js';
import { type AwsClients, createAwsClients } from '../../../lib/aws/index.js';
import { InvalidArgumentError } from '../../../lib/index.js';

const saved = { ...process.env };
let fauxqs: FauxqsServer;
let sqsProxy: CountingProxy;
let dynamo: Server;
let dynamoProxy: CountingProxy;
const clients: AwsClients[] = [];

function make(options: Parameters<typeof createAwsClients>[0]): AwsClients {
  const c = createAwsClients(options);
  clients.push(c);
  return c;
}

/** A loopback port nothing listens on: calls to it are refused. */
async function deadEndpoint(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  // The emulators accept any credentials, but the SDK signs every call and needs some.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
  });
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE'])
    delete process.env[k];
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqsProxy = await startCountingProxy(fauxqs.port);
  dynamo = dynalite({ createTableMs: 0 }) as Server;
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  dynamoProxy = await startCountingProxy((dynamo.address() as net.AddressInfo).port);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_S3']) delete process.env[k];
  sqsProxy.tally.reset();
  dynamoProxy.tally.reset();
});
afterAll(async () => {
  await Promise.all([sqsProxy.close(), dynamoProxy.close()]);
  await fauxqs.stop();
  dynamo.closeAllConnections();
  await new Promise<void>((resolve) => dynamo.close(() => resolve()));
  process.env = saved;
});

describe('createAwsClients: bounded sockets', () => {
  it('500 concurrent SendMessage calls: the emulator sees at most maxSockets sockets, and exactly that many', async () => {
    const { sqs } = make({ maxSockets: 8, endpoint: sqsProxy.url });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bounded-500' }));
    sqsProxy.tally.reset();
    const sent = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `m${i}` })),
      ),
    );
    expect(sent.filter((r) => r.MessageId)).toHaveLength(500);
    expect(fauxqs.inspectQueue('bounded-500')?.messages.ready).toHaveLength(500);
    expect(sqsProxy.tally.peakSockets).toBe(8);
  });

  it('the clients share one cap: SQS, DynamoDB and Lambda at once stay within maxSockets in all', async () => {
    // Each service on its own emulator behind its own proxy, every proxy also counting into one total;
    // the endpoints come from the per-service variables the SDK reads itself.
    const total = createTally();
    const lambdaServer = await startCountingServer({
      record: false,
      script: () => ({ headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }),
    });
    const proxies = [
      await startCountingProxy(fauxqs.port, { tallies: [total] }),
      await startCountingProxy((dynamo.address() as net.AddressInfo).port, { tallies: [total] }),
      await startCountingProxy(lambdaServer.port, { tallies: [total] }),
    ];
    const [sqsP, dynamoP, lambdaP] = proxies;
    try {
      process.env.AWS_ENDPOINT_URL_SQS = sqsP.url;
      process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamoP.url;
      process.env.AWS_ENDPOINT_URL_LAMBDA = lambdaP.url;
      const { sqs, dynamodb, lambda } = make({ maxSockets: 6 });
      await dynamodb.send(
        new CreateTableCommand({
          TableName: 'shared-cap',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      total.reset();
      const n = 150;
      const results = await Promise.all([
        ...Array.from({ length: n }, () => sqs.send(new ListQueuesCommand({}))),
        ...Array.from({ length: n }, (_, i) =>
          dynamodb.send(new PutItemCommand({ TableName: 'shared-cap', Item: { pk: { S: `k${i}` } } })),
        ),
        ...Array.from({ length: n }, () =>
          lambda.send(new InvokeCommand({ FunctionName: 'worker', Payload: '{}' })),
        ),
      ]);
      expect(results).toHaveLength(3 * n);
      expect(lambdaServer.tally.requests).toBe(n);
      for (const p of proxies) expect(p.tally.peakSockets).toBeGreaterThan(0);
      expect(total.peakSockets).toBe(6);
    } finally {
      for (const k of ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_LAMBDA']) delete process.env[k];
      await Promise.all(proxies.map((p) => p.close()));
      await lambdaServer.close();
    }
  });
});

describe('createAwsClients: a call queued at the cap is not a connect timeout', () => {
  it('40 Invokes through 1 socket with a 50 ms connect timeout all succeed', async () => {
    // The SDK handler's own connectionTimeout starts with the call, so a call waiting its turn for the one
    // socket (here about 40 x 10 ms) would fail; the agent times the TCP connect alone.
    const lambdaServer = await startCountingServer({ delayMs: 10, script: () => ({ body: '{}' }) });
    try {
      process.env.AWS_ENDPOINT_URL_LAMBDA = lambdaServer.url;
      const { lambda } = make({ maxSockets: 1, connectTimeoutMs: 50, maxAttempts: 1 });
      const results = await Promise.all(
        Array.from({ length: 40 }, () =>
          lambda.send(new InvokeCommand({ FunctionName: 'worker', Payload: '{}' })),
        ),
      );
      expect(results.every((r) => r.StatusCode === 200)).toBe(true);
      expect(lambdaServer.tally.requests).toBe(40);
      expect(lambdaServer.tally.peakSockets).toBe(1);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_LAMBDA;
      await lambdaServer.close();
    }
  });
});

describe('createAwsClients: endpoint resolution', () => {
  it('an explicit endpoint wins over the variables', async () => {
    process.env.AWS_ENDPOINT_URL = await deadEndpoint();
    process.env.AWS_ENDPOINT_URL_SQS = await deadEndpoint();
    const { sqs } = make({ maxSockets: 2, endpoint: sqsProxy.url, maxAttempts: 1 });
    await sqs.send(new ListQueuesCommand({}));
    expect(sqsProxy.tally.connections).toBe(1);
  });

  it('AWS_ENDPOINT_URL_SQS wins over AWS_ENDPOINT_URL', async () => {
    process.env.AWS_ENDPOINT_URL = await deadEndpoint();
    process.env.AWS_ENDPOINT_URL_SQS = sqsProxy.url;
    const { sqs } = make({ maxSockets: 2, maxAttempts: 1 });
    await sqs.send(new ListQueuesCommand({}));
    expect(sqsProxy.tally.connections).toBe(1);
  });

  it('AWS_ENDPOINT_URL serves every service without its own variable, S3 path-style', async () => {
    process.env.AWS_ENDPOINT_URL = sqsProxy.url;
    const { sqs, s3 } = make({ maxSockets: 2, maxAttempts: 1 });
    await sqs.send(new ListQueuesCommand({}));
    await s3.send(new CreateBucketCommand({ Bucket: 'env-bucket' }));
    await s3.send(new PutObjectCommand({ Bucket: 'env-bucket', Key: 'k', Body: 'hello' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'env-bucket', Key: 'k' }));
    expect(await got.Body?.transformToString()).toBe('hello');
    // Both clients went to AWS_ENDPOINT_URL (the proxy), on the one kept-alive socket their shared agent holds.
    expect(sqsProxy.tally.connections).toBe(1);
  });

  it('a refused endpoint is really refused (the checks above can fail)', async () => {
    const { sqs } = make({ maxSockets: 1, endpoint: await deadEndpoint(), maxAttempts: 1 });
    await expect(sqs.send(new ListQueuesCommand({}))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('createAwsClients: invalid options', () => {
  const cases: Array<[object, string]> = [
    [{ maxSockets: 0 }, 'Expected `maxSockets` to be an integer >= 1, got 0'],
    [
      { maxSockets: 4, endpoint: 'localhost:4566' },
      'Expected `endpoint` to be an absolute http: or https: URL, got "localhost:4566"',
    ],
    [{ maxSockets: 4, region: '' }, 'Expected `region` to be a region name, got ""'],
    [{ maxSockets: 4, socketTimeoutMs: -1 }, 'Expected `socketTimeoutMs` to be an integer >= 0, got -1'],
    [{ maxSockets: 4, maxAttempts: 0 }, 'Expected `maxAttempts` to be an integer >= 1, got 0'],
  ];
  for (const [options, message] of cases) {
    it(message, () => {
      expect(() => createAwsClients(options as never)).toThrow(InvalidArgumentError);
      expect(() => createAwsClients(options as never)).toThrow(message);
    });
  }
});
