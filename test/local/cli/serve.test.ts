// `bounded-fanout serve` and the runtime's one endpoint, with the CLI as real child processes: the serve prints
// its endpoint and the stack's names, an SDK client configured with that endpoint alone finds the stack's queue
// there, `run --endpoint` against the serve runs a job to exact counts, and Ctrl-C stops the serve with exit 0.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetFunctionConcurrencyCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
} from '@aws-sdk/client-lambda';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { resourceNames, withDefaults } from '../../../lib/config.js';
import type { RunReport } from '../../../local/report/types.js';
import { type CliRun, runCli, startCli } from './cli-process.js';

const names = resourceNames(withDefaults({}));
let dir: string;
let server: CountingServer;
const started: CliRun[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-serve-'));
  server = await startCountingServer();
});

afterAll(async () => {
  for (const cli of started) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function startServe(...flags: string[]): Promise<{ cli: CliRun; endpoint: string }> {
  const cli = startCli(['serve', '--listen', '127.0.0.1:0', ...flags]);
  started.push(cli);
  await cli.waitFor(/Ctrl-C stops/);
  const { stdout } = cli.output();
  const endpoint = /^\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)?.[1];
  if (!endpoint) throw new Error(`no endpoint printed: ${stdout}`);
  return { cli, endpoint };
}

describe('bounded-fanout serve', () => {
  it('prints the endpoint and the names, serves the queue to an SDK client, and stops on Ctrl-C with exit 0', async () => {
    const { cli, endpoint } = await startServe();
    const sqs = new SQSClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });
    try {
      const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: names.queue }));
      expect(QueueUrls.map((u) => u.split('/').pop()).sort()).toEqual([names.queue, names.deadLetterQueue]);
      for (const url of QueueUrls) expect(new URL(url).origin).toBe(endpoint);
    } finally {
      sqs.destroy();
    }
    cli.child.kill('SIGINT');
    const result = await cli.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`[bounded-fanout] endpoint: ${endpoint}\n`);
    expect(result.stdout).toContain(`[bounded-fanout] tables: ${names.idempotencyTable}`);
    expect(result.stdout).toContain(`[bounded-fanout] bucket: ${names.bucket}\n`);
    const port = new URL(endpoint).port;
    expect(result.stdout).toContain(
      `[bounded-fanout] queue: http://sqs.us-east-1.local@127.0.0.1:${port}/000000000000/${names.queue}\n`,
    );
  });

  it('run --endpoint against a serve runs the job to exact counts on resources of its own', async () => {
    const { cli, endpoint } = await startServe();
    try {
      const tasks = Array.from({ length: 12 }, (_, i) => ({
        id: `s${i}`,
        url: `${server.url}/s${i}`,
        mode: i % 2 ? 'queue' : 'inline',
      }));
      const file = join(dir, 'serve-job.json');
      await writeFile(file, JSON.stringify({ jobId: 'against-serve', tasks }));
      const port = new URL(server.url).port;
      const result = await runCli([
        'run',
        '--endpoint',
        endpoint,
        '--manifest',
        file,
        '--allow-host',
        `127.0.0.1:${port}`,
        '--format',
        'json',
      ]);
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout) as RunReport;
      expect(report).toMatchObject({ submitted: 12, succeeded: 12, deadLettered: 0, invalid: 0 });
      for (const t of tasks) expect(server.requests.filter((r) => r.path === `/${t.id}`)).toHaveLength(1);
      expect(result.stderr).toContain(
        `${endpoint} is a bounded-fanout serve of the stack "${withDefaults({}).prefix}"`,
      );
    } finally {
      cli.child.kill('SIGINT');
      expect((await cli.done).code).toBe(0);
    }
  });

  it("limits --endpoint against a serve changes its worker's event source and reserved concurrency", async () => {
    const { cli, endpoint } = await startServe();
    const lambda = new LambdaClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });
    const settings = async () => ({
      maximum: (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: names.worker })))
        .EventSourceMappings?.[0]?.ScalingConfig?.MaximumConcurrency,
      reserved: (await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: names.worker })))
        .ReservedConcurrentExecutions,
    });
    try {
      const deployed = withDefaults({});
      expect(await settings()).toEqual({
        maximum: deployed.workerMaxConcurrency,
        reserved: deployed.workerReservedConcurrency,
      });
      const result = await runCli([
        'limits',
        '--endpoint',
        endpoint,
        'eventSourceMaxConcurrency=3',
        'workerReservedConcurrency=8',
      ]);
      expect(result).toMatchObject({
        code: 0,
        stderr: '',
        stdout: `event source ${names.queue} -> ${names.worker}: maximum concurrency 3\nfunction ${names.worker}: reserved concurrency 8\n`,
      });
      expect(await settings()).toEqual({ maximum: 3, reserved: 8 });
      // Raised alone, the maximum is checked against the reservation in force now: 5 + 4 direct invokes > 8.
      const raised = await runCli(['limits', '--endpoint', endpoint, 'eventSourceMaxConcurrency=5']);
      expect(raised).toMatchObject({
        code: 2,
        stdout: '',
        stderr: `bounded-fanout: eventSourceMaxConcurrency: 5 + invokeConcurrency x orchestrators (4) = 9 is above function ${names.worker}'s reserved concurrency now (8): the poller would be throttled, and throttled messages count toward maxReceiveCount; give workerReservedConcurrency=9 (or more) with it\n`,
      });
      expect(await settings()).toEqual({ maximum: 3, reserved: 8 });
    } finally {
      lambda.destroy();
      cli.child.kill('SIGINT');
      expect((await cli.done).code).toBe(0);
    }
  });

  it("limits checks values against the serve's own config, not cdk.json's", async () => {
    // cdk.json's workerMaxConcurrency is 10 and its one orchestrator invokes 4 workers at most: this serve proved
    // its budget for 12, and for 2 orchestrators (8 direct invokes).
    const { cli, endpoint } = await startServe(
      '--worker-concurrency',
      '12',
      '--orchestrator-reserved-concurrency',
      '2',
    );
    const lambda = new LambdaClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });
    const maximum = async () =>
      (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: names.worker })))
        .EventSourceMappings?.[0]?.ScalingConfig?.MaximumConcurrency;
    try {
      expect(await maximum()).toBe(12);
      const lowered = await runCli(['limits', '--endpoint', endpoint, 'eventSourceMaxConcurrency=11']);
      expect(lowered).toMatchObject({ code: 0, stderr: '' });
      expect(await maximum()).toBe(11);
      const back = await runCli(['limits', '--endpoint', endpoint, 'eventSourceMaxConcurrency=12']);
      expect(back).toMatchObject({ code: 0, stderr: '' });
      expect(await maximum()).toBe(12);
      const above = await runCli(['limits', '--endpoint', endpoint, 'eventSourceMaxConcurrency=13']);
      expect(above.code).toBe(2);
      expect(above.stderr).toContain(
        '  - eventSourceMaxConcurrency: 13 is above the deployed workerMaxConcurrency (12): an override only lowers what the budget proved at synth',
      );
      expect(await maximum()).toBe(12);
      // A maximum alone is checked against the reservation in force plus this serve's 8 direct invokes.
      const both = await runCli([
        'limits',
        '--endpoint',
        endpoint,
        'eventSourceMaxConcurrency=2',
        'workerReservedConcurrency=10',
      ]);
      expect(both).toMatchObject({ code: 0, stderr: '' });
      const alone = await runCli(['limits', '--endpoint', endpoint, 'eventSourceMaxConcurrency=5']);
      expect(alone.code).toBe(2);
      expect(alone.stderr).toContain(
        'eventSourceMaxConcurrency: 5 + invokeConcurrency x orchestrators (8) = 13 is above function',
      );
      expect(await maximum()).toBe(2);
    } finally {
      lambda.destroy();
      cli.child.kill('SIGINT');
      expect((await cli.done).code).toBe(0);
    }
  });

  it("limits refuses a host's maxConcurrency its processes cannot keep to, as the budget does, unless shared", async () => {
    // Each process holds a host to its share of maxConcurrency, at least 1 request: below the process count
    // the fleet goes over, which is why the budget refuses such a declared value. Before, an override below it was
    // written and said done, and the fleet still sent one request per process.
    const file = join(dir, 'hosts.json');
    const hosts = {
      'api.example.com': { maxConcurrency: 200 },
      'leased.example.com': { maxConcurrency: 200, shared: true },
    };
    await writeFile(file, JSON.stringify(hosts));
    const { cli, endpoint } = await startServe('--downstream', file);
    const dynamodb = new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });
    const ledger = new JobLedgerTable(dynamodb, { tableName: names.jobTable, retentionDays: 1 });
    try {
      const start = { jobId: 'hosts', runId: 'h1', startedAt: Date.now(), toleratedFailurePercent: 100 };
      await ledger.startRun({ ...start, overlap: 'allow' });
      const limits = (pair: string) => runCli(['limits', '--endpoint', endpoint, '--job', 'hosts', pair]);
      const below = await limits('downstream.api.example.com.maxConcurrency=2');
      expect(below).toMatchObject({ code: 2, stdout: '' });
      expect(below.stderr).toMatch(
        /- downstream\.api\.example\.com\.maxConcurrency: 2 is below \d+ processes .* each process's share \(2 \/ \d+\) is raised to the minimum of 1; .* or declare it shared: true/,
      );
      expect((await ledger.getRun('hosts', 'h1'))?.limits).toBeUndefined();
      // A shared host is held to its cap by leases across the fleet, whatever the process count.
      expect(await limits('downstream.leased.example.com.maxConcurrency=2')).toMatchObject({
        code: 0,
        stderr: '',
      });
      expect(await limits('downstream.api.example.com.maxConcurrency=150')).toMatchObject({
        code: 0,
        stderr: '',
      });
      expect((await ledger.getRun('hosts', 'h1'))?.limits).toEqual({
        downstream: {
          'leased.example.com': { maxConcurrency: 2 },
          'api.example.com': { maxConcurrency: 150 },
        },
      });
    } finally {
      dynamodb.destroy();
      cli.child.kill('SIGINT');
      expect((await cli.done).code).toBe(0);
    }
  });

  it('refuses a host that is not loopback, and an address that is taken, with exit 2', async () => {
    const remote = await runCli(['serve', '--listen', '0.0.0.0:4566']);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toBe(
      'bounded-fanout: --listen: expected a loopback address (127.0.0.1, [::1], localhost): the endpoint has no authentication, so anyone who reaches it could read the queues, invoke the functions and change the worker’s concurrency; add --allow-remote to listen there anyway, got "0.0.0.0:4566"\n',
    );
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const { port } = holder.address() as AddressInfo;
    try {
      const taken = await runCli(['serve', '--listen', `127.0.0.1:${port}`]);
      expect(taken.code).toBe(2);
      expect(taken.stderr).toBe(
        `bounded-fanout: Cannot listen on 127.0.0.1:${port}: the address is in use (EADDRINUSE)\n`,
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('bounded-fanout run', () => {
  it('prints its one endpoint and listens where --listen says', async () => {
    const file = join(dir, 'one.json');
    await writeFile(file, JSON.stringify({ jobId: 'one', tasks: [{ id: 'o1', url: `${server.url}/o1` }] }));
    const port = new URL(server.url).port;
    const result = await runCli([
      'run',
      '--listen',
      '127.0.0.1:0',
      '--manifest',
      file,
      '--allow-host',
      `127.0.0.1:${port}`,
      '--format',
      'json',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^\[bounded-fanout\] endpoint: http:\/\/127\.0\.0\.1:(?!0\b)\d+$/m);
    expect(JSON.parse(result.stdout)).toMatchObject({ submitted: 1, succeeded: 1 });
  });
});
