// The local runtime's one endpoint, through the real AWS SDK clients configured with that endpoint only: SQS,
// S3 (a 5 MiB object streamed both ways), DynamoDB, Lambda Invoke of a local function and EventBridge PutEvents
// all reach the part that plays them, on real emulators and a real Invoke server on loopback.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_HEALTH_PATH, Edge } from '../../local/edge.js';
import { DEFAULT_EDGE_PORT, listenAt, parseListenAddress } from '../../local/edge-listen.js';
import { serviceOf } from '../../local/edge-route.js';
import { type Emulators, startEmulators } from '../../local/emulators.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';

const region = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let emulators: Emulators;
let invoke: InvokeServer;
let edge: Edge;

beforeAll(async () => {
  emulators = await startEmulators({ region });
  const echo = new LocalFunction({
    name: 'echo',
    timeoutMs: 3_000,
    handler: async (event: unknown) => ({ echoed: event }),
  });
  invoke = new InvokeServer({ functions: [echo] });
  const { sqs, s3, dynamodb } = emulators.endpoints;
  edge = await Edge.start({
    upstreams: { sqs, s3, dynamodb, lambda: await invoke.listen() },
    listen: { host: '127.0.0.1', port: 0 },
    maxSocketsPerUpstream: 4,
  });
});

afterAll(async () => {
  await edge?.close();
  await invoke?.close();
  await emulators?.stop();
});

const clientConfig = () => ({ endpoint: edge.url, region, credentials });

describe('one endpoint, every service by its protocol', () => {
  it('SQS: the queue URL names the endpoint, and SendMessage/ReceiveMessage go through it', async () => {
    const sqs = new SQSClient(clientConfig());
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'edge-sqs' }));
      expect(new URL(QueueUrl!).origin).toBe(edge.url);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello through the edge' }));
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      expect(Messages.map((m) => m.Body)).toEqual(['hello through the edge']);
      const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'edge-sqs' }));
      expect(QueueUrls).toEqual([QueueUrl]);
    } finally {
      sqs.destroy();
    }
  });

  it('S3: a 5 MiB object goes up and comes back streamed, byte for byte', async () => {
    const s3 = new S3Client({ ...clientConfig(), forcePathStyle: true });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'edge-bucket' }));
      const size = 5 * 1024 * 1024;
      const bytes = randomBytes(size);
      // A stream body with a known length: the edge must pass it on as it arrives.
      const chunks = Array.from({ length: 80 }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
      await s3.send(
        new PutObjectCommand({
          Bucket: 'edge-bucket',
          Key: 'big.bin',
          Body: Readable.from(chunks),
          ContentLength: size,
        }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: 'edge-bucket', Key: 'big.bin' }));
      expect(got.ContentLength).toBe(size);
      const hash = createHash('sha256');
      let pieces = 0;
      for await (const chunk of got.Body as Readable) {
        hash.update(chunk as Buffer);
        pieces++;
      }
      expect(hash.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
      // Streamed: the body arrived in many pieces, not one buffered whole.
      expect(pieces).toBeGreaterThan(1);
    } finally {
      s3.destroy();
    }
  });

  it('DynamoDB: PutItem then GetItem', async () => {
    const dynamodb = new DynamoDBClient(clientConfig());
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: 'edge-table',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await dynamodb.send(
        new PutItemCommand({ TableName: 'edge-table', Item: { pk: { S: 'a' }, n: { N: '42' } } }),
      );
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: 'edge-table', Key: { pk: { S: 'a' } } }),
      );
      expect(Item).toEqual({ pk: { S: 'a' }, n: { N: '42' } });
    } finally {
      dynamodb.destroy();
    }
  });

  it('Lambda: Invoke runs the local function', async () => {
    const lambda = new LambdaClient(clientConfig());
    try {
      const out = await lambda.send(
        new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from(JSON.stringify({ n: 7 })) }),
      );
      expect(out.StatusCode).toBe(200);
      expect(JSON.parse(Buffer.from(out.Payload!).toString('utf8'))).toEqual({ echoed: { n: 7 } });
    } finally {
      lambda.destroy();
    }
  });

  it('EventBridge: PutEvents lands on the bus, which lists it and tells its subscribers', async () => {
    const events = new EventBridgeClient(clientConfig());
    const heard: string[] = [];
    const unsubscribe = edge.eventBus.subscribe((e) => heard.push(e.id));
    try {
      const detail = { jobId: 'j1', runId: 'r1', status: 'succeeded' };
      const out = await events.send(
        new PutEventsCommand({
          Entries: [
            { Source: 'bounded-fanout', DetailType: 'Run Finished', Detail: JSON.stringify(detail) },
            { Source: 'bounded-fanout', DetailType: 'Run Finished', Detail: 'not json' },
          ],
        }),
      );
      expect(out.FailedEntryCount).toBe(1);
      expect(out.Entries?.[1]).toEqual({
        ErrorCode: 'MalformedDetail',
        ErrorMessage: 'Detail is malformed.',
      });
      const id = out.Entries?.[0]?.EventId;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const listed = edge.eventBus.events.filter((e) => e.id === id);
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ source: 'bounded-fanout', 'detail-type': 'Run Finished', detail });
      expect(heard).toEqual([id]);
    } finally {
      unsubscribe();
      events.destroy();
    }
  });

  it('an unknown route gets S3 answer (unsigned GET of a missing bucket: NoSuchBucket)', async () => {
    const { status, body } = await get(edge.url, '/no-such-bucket-here/key');
    expect(status).toBe(404);
    expect(body).toContain('NoSuchBucket');
  });

  it('the health route says what runs behind the endpoint', async () => {
    const { status, body } = await get(edge.url, EDGE_HEALTH_PATH);
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({
      service: 'bounded-fanout',
      endpoint: edge.url,
      services: { sqs: 'running', s3: 'running', dynamodb: 'running', lambda: 'running', events: 'running' },
    });
  });

  it('keeps the sockets to each upstream within the cap under 20 concurrent requests', async () => {
    const s3 = new S3Client({ ...clientConfig(), forcePathStyle: true, maxAttempts: 1 });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'edge-many' }));
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      await Promise.all(
        keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: 'edge-many', Key, Body: Key }))),
      );
      const bodies = await Promise.all(
        keys.map(async (Key) => {
          const got = await s3.send(new GetObjectCommand({ Bucket: 'edge-many', Key }));
          return got.Body!.transformToString();
        }),
      );
      expect(bodies).toEqual(keys);
      const fauxqsOrigin = new URL(emulators.endpoints.s3).origin;
      expect(edge.peakSockets()[fauxqsOrigin]).toBeGreaterThanOrEqual(1);
      expect(edge.peakSockets()[fauxqsOrigin]).toBeLessThanOrEqual(4);
    } finally {
      s3.destroy();
    }
  });
});

describe('routing by protocol', () => {
  const auth = (service: string) =>
    `AWS4-HMAC-SHA256 Credential=local/20261205/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;
  it.each([
    [{ 'x-amz-target': 'AmazonSQS.SendMessage' }, '/', 'sqs'],
    [{ 'x-amz-target': 'DynamoDB_20120810.GetItem' }, '/', 'dynamodb'],
    [{ 'x-amz-target': 'AWSEvents.PutEvents' }, '/', 'events'],
    [{ authorization: auth('lambda') }, '/2015-03-31/functions/f/invocations', 'lambda'],
    [{}, '/2015-03-31/functions/f/invocations', 'lambda'],
    [{}, '/2016-08-19/account-settings', 'lambda'],
    [{}, '/2015-03-31/event-source-mappings/', 'lambda'],
    [{}, '/2015-03-31/event-source-mappings/5f3c-uuid', 'lambda'],
    [{}, '/2017-10-31/functions/f/concurrency', 'lambda'],
    [{}, '/2019-09-30/functions/f/concurrency', 'lambda'],
    // A bucket that happens to be named like Lambda's API version is S3's when signed for S3.
    [{ authorization: auth('s3') }, '/2015-03-31/functions/f', 's3'],
    [{ authorization: auth('sqs') }, '/000000000000/q', 'sqs'],
    [{}, '/bucket/key?X-Amz-Credential=local%2F20261205%2Fus-east-1%2Fs3%2Faws4_request', 's3'],
    [{}, '/anything/else', 's3'],
  ])('%j %s -> %s', (headers, url, service) => {
    expect(serviceOf({ headers, url })).toBe(service);
  });
});

describe('when an upstream is down', () => {
  it('answers 502 with one line naming the service and the endpoint', async () => {
    const dead = await deadPort();
    const down = await Edge.start({
      upstreams: { sqs: `http://127.0.0.1:${dead}`, s3: `http://127.0.0.1:${dead}` },
      listen: { host: '127.0.0.1', port: 0 },
    });
    try {
      const sqs = await get(down.url, '/', { 'x-amz-target': 'AmazonSQS.ListQueues' });
      expect(sqs.status).toBe(502);
      expect(sqs.body).toBe(
        `bounded-fanout endpoint: the SQS endpoint http://127.0.0.1:${dead} does not answer (ECONNREFUSED)\n`,
      );
      const lambda = await get(down.url, '/2015-03-31/functions/f/invocations');
      expect(lambda.status).toBe(502);
      expect(lambda.body).toBe('bounded-fanout endpoint: no Lambda endpoint is running behind it\n');
    } finally {
      await down.close();
    }
  });
});

describe('where it listens', () => {
  it('takes the preferred address when it is free, and another port only when it is taken', async () => {
    // A port free a moment ago, that no other test asks for (the default, 4566, is this code with that number).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const preferred = { host: '127.0.0.1', port };
    const [first, second] = [createServer(), createServer()];
    try {
      expect(await listenAt(first, undefined, preferred)).toEqual(preferred);
      const fallback = await listenAt(second, undefined, preferred);
      expect(fallback.host).toBe('127.0.0.1');
      expect(fallback.port).not.toBe(port);
      expect(fallback.port).toBeGreaterThan(0);
    } finally {
      await Promise.all([first, second].map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });

  it(`falls back to a free port when ${DEFAULT_EDGE_PORT} is taken`, async () => {
    // Take 4566 ourselves (when something else already has it, the fallback is exercised all the same).
    const holder: Server = createServer();
    const held = await new Promise<boolean>((resolve) => {
      holder.once('error', () => resolve(false));
      holder.listen(DEFAULT_EDGE_PORT, '127.0.0.1', () => resolve(true));
    });
    const fallback = await Edge.start({ upstreams: {} });
    try {
      const port = Number(new URL(fallback.url).port);
      expect(new URL(fallback.url).hostname).toBe('127.0.0.1');
      expect(port).not.toBe(DEFAULT_EDGE_PORT);
      expect(port).toBeGreaterThan(0);
      expect((await get(fallback.url, EDGE_HEALTH_PATH)).status).toBe(200);
    } finally {
      await fallback.close();
      if (held) await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('refuses an address asked for that is taken, naming it', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const port = (holder.address() as AddressInfo).port;
    try {
      await expect(Edge.start({ upstreams: {}, listen: { host: '127.0.0.1', port } })).rejects.toThrow(
        `Cannot listen on 127.0.0.1:${port}: the address is in use (EADDRINUSE)`,
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('parses HOST:PORT and refuses a host that is not loopback unless allowed', () => {
    expect(parseListenAddress('127.0.0.1:4566')).toEqual({ host: '127.0.0.1', port: 4566 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListenAddress('localhost:9000')).toEqual({ host: 'localhost', port: 9000 });
    expect(() => parseListenAddress('0.0.0.0:4566')).toThrow(
      'Expected `--listen` to be a loopback address (127.0.0.1, [::1], localhost): the endpoint has no authentication, so anyone who reaches it can read the queues, invoke the functions and change the worker’s concurrency, got "0.0.0.0:4566"',
    );
    expect(parseListenAddress('0.0.0.0:4566', { allowNonLoopback: true })).toEqual({
      host: '0.0.0.0',
      port: 4566,
    });
    expect(() => parseListenAddress('4566')).toThrow(
      'Expected `--listen` to be HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:4566, got "4566"',
    );
    expect(() => parseListenAddress('127.0.0.1:70000')).toThrow('got "127.0.0.1:70000"');
  });
});

function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
