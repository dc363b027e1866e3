// Backend choice: the container-runtime probe (a silent socket must not hang it), the forced choices, and
// the resources created on the chosen backend with the stack's names and settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_RETENTION_SECONDS, resourceNames, withDefaults } from '../../lib/config.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { BACKEND_ENV, backendEnvironment, startBackend } from '../../local/backend.js';
import { candidateHosts, probeContainerRuntime } from '../../local/container-runtime.js';
import { jobEnvironment } from '../../local/job-environment.js';
import { localCredentials } from '../../local/resources.js';
import { backend, freshResources } from './fixtures/aws.js';

let dir: string;
let silent: NetServer;
let docker: Server;
const sockets = new Set<import('node:net').Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bf-probe-'));
  // Accepts connections and never answers: the case that hangs testcontainers.
  silent = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Answers the Docker API's ping, as an engine would.
  docker = createServer((req, res) => {
    res.writeHead(req.url === '/_ping' ? 200 : 404).end('OK');
  });
  await Promise.all([
    new Promise<void>((resolve) => silent.listen(join(dir, 'silent.sock'), resolve)),
    new Promise<void>((resolve) => docker.listen(join(dir, 'docker.sock'), resolve)),
  ]);
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  docker.closeAllConnections();
  await new Promise((resolve) => docker.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('probeContainerRuntime', () => {
  it('takes DOCKER_HOST alone when it is set', () => {
    expect(candidateHosts({ DOCKER_HOST: 'tcp://10.0.0.1:2375' })).toEqual(['tcp://10.0.0.1:2375']);
  });

  it('gives up on a socket that accepts and never answers, within its budget', async () => {
    const result = await probeContainerRuntime({ DOCKER_HOST: `unix://${join(dir, 'silent.sock')}` }, 300);
    expect(result.runtime).toBeUndefined();
    expect(result.tried).toEqual([`unix://${join(dir, 'silent.sock')}: no answer within 300 ms`]);
  });

  it('refuses a host with nothing listening, and an unknown scheme', async () => {
    const gone = await probeContainerRuntime({ DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` });
    expect(gone.runtime).toBeUndefined();
    expect(gone.tried[0]).toMatch(/ENOENT|ECONNREFUSED/);
    const pipe = await probeContainerRuntime({ DOCKER_HOST: 'npipe:////./pipe/docker_engine' });
    expect(pipe.tried[0]).toContain('unsupported scheme npipe:');
  });

  it('finds a runtime that answers GET /_ping with 200', async () => {
    const host = `unix://${join(dir, 'docker.sock')}`;
    const result = await probeContainerRuntime({ DOCKER_HOST: host });
    expect(result.runtime).toEqual({ dockerHost: host });
  });
});

describe('startBackend', () => {
  it('refuses an unknown backend name, naming the variable and the value', async () => {
    const error = await startBackend({ env: { [BACKEND_ENV]: 'docker' }, log: () => {} }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain(`${BACKEND_ENV}`);
    expect(error.message).toContain('"docker"');
  });

  it('refuses LocalStack when no runtime answers, saying what it tried', async () => {
    const env = { DOCKER_HOST: `unix://${join(dir, 'silent.sock')}` };
    const error = await startBackend({ kind: 'localstack', env, log: () => {} }).catch((e) => e);
    expect(error.message).toContain('no container runtime answers');
    expect(error.message).toContain('silent.sock');
  });

  it('falls back to the embedded emulators and says why', async () => {
    const lines: string[] = [];
    const env = { DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` };
    const started = await startBackend({ env, log: (line) => lines.push(line) });
    try {
      expect(started.kind).toBe('emulators');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('embedded emulators');
      expect(lines[0]).toContain('absent.sock');
      expect(backendEnvironment(started, 'http://127.0.0.1:1')).toMatchObject({
        AWS_ENDPOINT_URL_SQS: started.endpoints.sqs,
        AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:1',
        // The local endpoint's event bus: the functions' Run Finished events never head for AWS.
        AWS_ENDPOINT_URL_EVENTBRIDGE: started.edge?.url,
      });
      expect(started.endpoints.events).toBe(started.edge?.url);
      expect(started.endpoints.sqs).not.toBe(started.edge?.url);
    } finally {
      await started.stop();
    }
  });

  it('with edge: every service is reached through the one local endpoint', async () => {
    const started = await startBackend({
      kind: 'emulators',
      log: () => {},
      edge: { listen: { host: '127.0.0.1', port: 0 } },
    });
    try {
      const url = started.edge?.url;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(started.endpoints).toEqual({ sqs: url, s3: url, dynamodb: url, events: url });
      const env = backendEnvironment(started);
      for (const name of ['SQS', 'S3', 'DYNAMODB', 'EVENTBRIDGE'])
        expect(env[`AWS_ENDPOINT_URL_${name}`]).toBe(url);
    } finally {
      await started.stop();
    }
  });

  it("with edge: the run's own functions reach DynamoDB at the front behind it, everything else at the endpoint", async () => {
    const started = await startBackend({
      kind: 'emulators',
      log: () => {},
      edge: { listen: { host: '127.0.0.1', port: 0 } },
    });
    try {
      const url = started.edge?.url as string;
      const config = withDefaults({ prefix: 'fnenv' });
      const resources = {
        queueUrl: 'q',
        queueArn: 'qa',
        deadLetterQueueUrl: 'd',
        deadLetterQueueArn: 'da',
        orchestratorDeadLetterQueueUrl: 'o',
        idempotencyTable: 'i',
        jobTable: 'j',
        bucket: 'b',
      };
      const env = jobEnvironment(config, started, resources, resourceNames(config), 'http://127.0.0.1:1');
      const front = env.AWS_ENDPOINT_URL_DYNAMODB;
      expect(front).not.toBe(url);
      expect(started.listening).toContain(front);
      for (const name of ['SQS', 'S3', 'EVENTBRIDGE']) expect(env[`AWS_ENDPOINT_URL_${name}`]).toBe(url);
      // The front answers DynamoDB as the endpoint does (the same tables: one dynalite behind both).
      const client = (endpoint: string) =>
        new DynamoDBClient({ endpoint, region: started.region, credentials: localCredentials });
      const created = await client(url).send(
        new CreateTableCommand({
          TableName: 'fnenv',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      expect(created.TableDescription?.TableName).toBe('fnenv');
      const described = await client(front).send(new DescribeTableCommand({ TableName: 'fnenv' }));
      expect(described.Table?.TableStatus).toBe('ACTIVE');
    } finally {
      await started.stop();
    }
  });
});

describe('createResources on the chosen backend', () => {
  it('creates the queue, its DLQ, the table and the bucket with the stack names and config settings', async () => {
    const { config, resources, sqs } = await freshResources('res', {
      visibilityTimeoutSeconds: 7,
      maxReceiveCount: 4,
    });
    const names = resourceNames(config);
    const { endpoints, region } = backend();
    const dynamodb = new DynamoDBClient({
      endpoint: endpoints.dynamodb,
      region,
      credentials: localCredentials,
    });
    const s3 = new S3Client({
      endpoint: endpoints.s3,
      region,
      credentials: localCredentials,
      forcePathStyle: true,
    });
    try {
      expect(resources.queueUrl.endsWith(`/${names.queue}`)).toBe(true);
      expect(resources.deadLetterQueueUrl.endsWith(`/${names.deadLetterQueue}`)).toBe(true);
      const { Attributes: queue = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: resources.queueUrl, AttributeNames: ['All'] }),
      );
      expect(queue.VisibilityTimeout).toBe('7');
      expect(JSON.parse(queue.RedrivePolicy!)).toEqual({
        deadLetterTargetArn: resources.deadLetterQueueArn,
        maxReceiveCount: 4,
      });
      const { Attributes: dlq = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: resources.deadLetterQueueUrl, AttributeNames: ['All'] }),
      );
      expect(dlq.MessageRetentionPeriod).toBe(String(DEAD_LETTER_RETENTION_SECONDS));
      // The orchestrator's own DLQ, for its asynchronous events that fail every attempt.
      expect(resources.orchestratorDeadLetterQueueUrl.endsWith(`/${names.orchestratorDeadLetterQueue}`)).toBe(
        true,
      );
      const { Attributes: orchestratorDlq = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: resources.orchestratorDeadLetterQueueUrl,
          AttributeNames: ['All'],
        }),
      );
      expect(orchestratorDlq.MessageRetentionPeriod).toBe(String(DEAD_LETTER_RETENTION_SECONDS));
      expect(orchestratorDlq.RedrivePolicy).toBeUndefined();
      const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: names.idempotencyTable }));
      expect(Table?.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
      await s3.send(new HeadBucketCommand({ Bucket: names.bucket }));
      // Creating again is harmless (same attributes).
      const again = await freshResourcesAgain(config.prefix);
      expect(again).toBe(resources.queueUrl);
    } finally {
      sqs.destroy();
      dynamodb.destroy();
      s3.destroy();
    }

    async function freshResourcesAgain(prefix: string) {
      const { createResources } = await import('../../local/resources.js');
      return (await createResources({ prefix, visibilityTimeoutSeconds: 7, maxReceiveCount: 4 }, backend()))
        .queueUrl;
    }
  });
});
