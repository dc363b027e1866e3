// `bounded-fanout limits` changing the worker's Lambda settings, end to end in a child process: the event
// source's MaximumConcurrency (UpdateEventSourceMapping) and the worker's reserved concurrency
// (PutFunctionConcurrency). One local endpoint (local/edge.ts, routing by the request's signing name, as it
// does for `serve`) puts the job table on the test backend's real DynamoDB and the Lambda API on the local
// runtime's real control plane (local/lambda-control.ts: a worker function and its event source mapping, as a
// `run` has them), behind a proxy that records what the CLI sent (recording-proxy.ts).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { OverlapPolicies, resourceNames } from '../../../lib/config.js';
import { Edge } from '../../../local/edge.js';
import { InvokeServer } from '../../../local/invoke-server.js';
import { mappedSource } from '../../../local/lambda-control.js';
import { LocalFunction } from '../../../local/local-function.js';
import { EventSourcePoller } from '../../../local/poller.js';
import { createResources, localCredentials } from '../../../local/resources.js';
import { runCli } from './cli-process.js';
import { type RecordingProxy, startRecordingProxy } from './recording-proxy.js';

const backend = inject('backend');
const prefix = `cli-worker-${process.pid}`;
const names = resourceNames({ prefix });
let dynamodb: DynamoDBClient;
let ledger: JobLedgerTable;
let lambda: RecordingProxy;
let edge: Edge;
let invoke: InvokeServer;
let poller: EventSourcePoller;
let uuid: string;
let worker: LocalFunction;
let sqs: SQSClient;

beforeAll(async () => {
  dynamodb = new DynamoDBClient({
    endpoint: backend.endpoints.dynamodb,
    region: backend.region,
    credentials: localCredentials,
  });
  ledger = new JobLedgerTable(dynamodb, { tableName: names.jobTable, retentionDays: 1 });
  const resources = await createResources(
    { prefix, visibilityTimeoutSeconds: 30, maxReceiveCount: 3 },
    backend,
  );
  sqs = new SQSClient({
    endpoint: backend.endpoints.sqs,
    region: backend.region,
    credentials: localCredentials,
  });
  // The worker as a run has it: no reservation yet, an event source of 10 (never started: only its settings change).
  worker = new LocalFunction({ name: names.worker, timeoutMs: 1_000, handler: async () => 'ok' });
  const source = {
    sqs,
    queueUrl: resources.queueUrl,
    queueArn: resources.queueArn,
    worker,
    batchSize: 10,
    maxConcurrency: 10,
  };
  poller = new EventSourcePoller(source);
  invoke = new InvokeServer({ functions: [worker] });
  const mapping = mappedSource(poller, source);
  uuid = mapping.uuid;
  invoke.addEventSource(mapping);
  lambda = await startRecordingProxy(await invoke.listen());
  edge = await Edge.start({
    upstreams: { dynamodb: backend.endpoints.dynamodb, lambda: lambda.url },
    listen: { host: '127.0.0.1', port: 0 },
  });
});

afterAll(async () => {
  await edge?.close();
  await lambda?.close();
  await invoke?.close();
  sqs?.destroy();
  dynamodb?.destroy();
});

const cli = (args: string[]) => runCli([...args, '--endpoint', edge.url, '--prefix', prefix]);

/** What the CLI sent the Lambda API besides the mapping's lookup. */
const changes = () =>
  lambda.calls.filter((c) => c.method === 'PUT').map(({ path, body }) => ({ path, body }));

describe("limits: the worker's Lambda settings", () => {
  it('sends the event source maximum and the reserved concurrency, says what it changed, and sets the run', async () => {
    await ledger.startRun({
      jobId: 'wl',
      runId: 'r1',
      startedAt: Date.now(),
      toleratedFailurePercent: 100,
      overlap: OverlapPolicies.ALLOW,
    });
    lambda.calls.length = 0;
    // The deployed (cdk.json) workerMaxConcurrency is 10, the reservation 14, invokes 4 x 1 orchestrator.
    const result = await cli([
      'limits',
      '--job',
      'wl',
      'perInvocationConcurrency=3',
      'eventSourceMaxConcurrency=6',
      'workerReservedConcurrency=10',
    ]);
    expect(result).toMatchObject({
      code: 0,
      stderr: '',
      stdout: [
        `event source ${names.queue} -> ${names.worker}: maximum concurrency 6`,
        `function ${names.worker}: reserved concurrency 10`,
        'run r1 of job wl: limits perInvocationConcurrency=3',
        '',
      ].join('\n'),
    });
    // The reservation in force read (none: 10 lowers it, so the event source goes first), the mapping found
    // from the worker's name, then each value sent once.
    expect(lambda.calls.slice(0, 2)).toMatchObject([
      { method: 'GET', path: `/2019-09-30/functions/${names.worker}/concurrency` },
      { method: 'GET', path: '/2015-03-31/event-source-mappings', functionName: names.worker },
    ]);
    expect(changes()).toEqual([
      {
        path: `/2015-03-31/event-source-mappings/${uuid}`,
        body: { ScalingConfig: { MaximumConcurrency: 6 } },
      },
      {
        path: `/2017-10-31/functions/${names.worker}/concurrency`,
        body: { ReservedConcurrentExecutions: 10 },
      },
    ]);
    expect((await ledger.getRun('wl', 'r1'))?.limits).toEqual({ perInvocationConcurrency: 3 });
    // And the worker now runs under them.
    expect(poller.maxConcurrency).toBe(6);
    expect(worker.reservedConcurrency).toBe(10);
  });

  it('the worker settings alone need no run', async () => {
    lambda.calls.length = 0;
    const result = await cli(['limits', 'workerReservedConcurrency=14']);
    expect(result).toMatchObject({ code: 0, stdout: `function ${names.worker}: reserved concurrency 14\n` });
    expect(changes()).toEqual([
      {
        path: `/2017-10-31/functions/${names.worker}/concurrency`,
        body: { ReservedConcurrentExecutions: 14 },
      },
    ]);
  });

  it('refuses a value out of range, naming the field and the value, and sends nothing', async () => {
    lambda.calls.length = 0;
    const above = await cli(['limits', 'eventSourceMaxConcurrency=11', 'workerReservedConcurrency=15']);
    expect(above).toMatchObject({
      code: 2,
      stdout: '',
      stderr: [
        'bounded-fanout: Invalid concurrency budget (2 problems):',
        '  - eventSourceMaxConcurrency: 11 is above the deployed workerMaxConcurrency (10): an override only lowers what the budget proved at synth',
        '  - workerReservedConcurrency: 15 is above the deployed workerReservedConcurrency (14): an override only lowers what the budget proved at synth',
        '',
      ].join('\n'),
    });
    const below = await cli(['limits', 'eventSourceMaxConcurrency=1']);
    expect(below.code).toBe(2);
    expect(below.stderr).toContain(
      '  - eventSourceMaxConcurrency: 1 is below 2 (the SQS event source takes 2..1000)',
    );
    const throttled = await cli(['limits', 'eventSourceMaxConcurrency=8', 'workerReservedConcurrency=11']);
    expect(throttled.code).toBe(2);
    expect(throttled.stderr).toContain(
      '  - workerReservedConcurrency: 11 is below eventSourceMaxConcurrency',
    );
    expect(lambda.calls).toEqual([]);
  });
});
