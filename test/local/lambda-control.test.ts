// The Lambda control-plane calls `limits` makes, on the local Invoke endpoint through the real
// @aws-sdk/client-lambda: the event source's maximum concurrency and the function's reserved concurrency change a
// running poller and function live. The poller drains a real queue on the test backend; the worker's
// invocations wait on gates the test opens, so every count below is read at a state the test waited for.
import {
  DeleteFunctionConcurrencyCommand,
  GetFunctionConcurrencyCommand,
  InvokeCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  PutFunctionConcurrencyCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvokeServer } from '../../local/invoke-server.js';
import { mappedSource } from '../../local/lambda-control.js';
import { LocalFunction } from '../../local/local-function.js';
import { EventSourcePoller } from '../../local/poller.js';
import { localCredentials } from '../../local/resources.js';
import { backend, freshResources, type SQSClient, sendBodies, waitFor } from './fixtures/aws.js';

/** A worker whose invocations each wait on a gate; counts those running, by the phase they started in. */
function gatedWorker(name: string) {
  const gates: (() => void)[] = [];
  const state = {
    running: 0,
    phase: 0,
    done: 0,
    runningByPhase: new Map<number, number>(),
    peakByPhase: new Map<number, number>(),
  };
  const fn = new LocalFunction({
    name,
    timeoutMs: 60_000,
    // A direct invocation marked quick returns at once: a cap that failed to hold shows as 'ran', not a hang.
    handler: async (event: { quick?: boolean }) => {
      if (event.quick) return 'quick';
      const phase = state.phase;
      const now = (state.runningByPhase.get(phase) ?? 0) + 1;
      state.runningByPhase.set(phase, now);
      state.peakByPhase.set(phase, Math.max(state.peakByPhase.get(phase) ?? 0, now));
      state.running++;
      await new Promise<void>((resolve) => gates.push(resolve));
      state.running--;
      state.runningByPhase.set(phase, (state.runningByPhase.get(phase) ?? 1) - 1);
      state.done++;
      return { batchItemFailures: [] };
    },
  });
  const openAll = () => {
    for (const open of gates.splice(0)) open();
  };
  return { fn, state, openAll };
}

let sqs: SQSClient;
let server: InvokeServer;
let lambda: LambdaClient;
let poller: EventSourcePoller;
const worker = gatedWorker('control-worker');
const other = new LocalFunction({
  name: 'control-other',
  timeoutMs: 5_000,
  reservedConcurrency: 5,
  handler: async () => 'ok',
});
let queueArn: string;
let queueUrl: string;

beforeAll(async () => {
  const fresh = await freshResources('control', { visibilityTimeoutSeconds: 60, maxReceiveCount: 3 });
  ({ sqs } = fresh);
  ({ queueArn, queueUrl } = fresh.resources);
  const source = {
    sqs,
    queueUrl,
    queueArn,
    worker: worker.fn,
    batchSize: 1,
    maxConcurrency: 2,
    region: backend().region,
  };
  poller = new EventSourcePoller(source);
  server = new InvokeServer({
    functions: [worker.fn, other],
    accountSettings: { concurrentExecutions: 1000 },
  });
  server.addEventSource(mappedSource(poller, source));
  lambda = new LambdaClient({
    endpoint: await server.listen(),
    region: 'us-east-1',
    credentials: localCredentials,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  worker.openAll();
  await poller?.stop();
  await server?.close();
  lambda?.destroy();
  sqs?.destroy();
});

const mappingOf = async (functionName: string) =>
  (await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: functionName })))
    .EventSourceMappings ?? [];

describe('UpdateEventSourceMapping', () => {
  it('lists the mapping, and a raised or lowered maximum bounds the batches started after it', async () => {
    const [mapping] = await mappingOf(`arn:aws:lambda:us-east-1:000000000000:function:${worker.fn.name}`);
    expect(mapping).toMatchObject({
      EventSourceArn: queueArn,
      BatchSize: 1,
      State: 'Enabled',
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(await mappingOf('no-such-function')).toEqual([]);

    await sendBodies(
      sqs,
      queueUrl,
      Array.from({ length: 12 }, (_, i) => `task-${i}`),
    );
    poller.start();
    await waitFor(() => worker.state.running === 2, 'two batches running (the maximum)');

    worker.state.phase = 1;
    const raised = await lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: mapping.UUID, ScalingConfig: { MaximumConcurrency: 5 } }),
    );
    expect(raised.ScalingConfig?.MaximumConcurrency).toBe(5);
    expect(raised.$metadata.httpStatusCode).toBe(202);
    // Without the change the poller would stay at 2 and this wait would time out.
    await waitFor(() => worker.state.running === 5, 'five batches running after the raise');
    expect(worker.state.peakByPhase.get(1)).toBe(3);

    worker.state.phase = 2;
    await lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: mapping.UUID, ScalingConfig: { MaximumConcurrency: 3 } }),
    );
    expect((await mappingOf(worker.fn.name))[0].ScalingConfig?.MaximumConcurrency).toBe(3);
    // Let every batch run to its end, a wave at a time: after the lowering never more than 3 at once.
    while (worker.state.done < 12) {
      worker.openAll();
      await waitFor(() => worker.state.running > 0 || worker.state.done === 12, 'the next wave, or the end');
      expect(worker.state.running).toBeLessThanOrEqual(5);
    }
    expect(worker.state.peakByPhase.get(2)).toBeLessThanOrEqual(3);
    expect(worker.state.peakByPhase.get(2)).toBeGreaterThan(0);
    expect(poller.stats.peakInvocations).toBe(5);
  });

  it('refuses what Lambda refuses, and what the local poller cannot change, naming the field and the value', async () => {
    const [{ UUID }] = await mappingOf(worker.fn.name);
    const refusal = (input: object) =>
      lambda.send(new UpdateEventSourceMappingCommand({ UUID, ...input })).then(
        () => undefined,
        (e: Error) => ({ name: e.name, message: e.message }),
      );
    expect(await refusal({ ScalingConfig: { MaximumConcurrency: 1 } })).toEqual({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 2",
    });
    expect(await refusal({ ScalingConfig: { MaximumConcurrency: 1001 } })).toMatchObject({
      name: 'ValidationException',
    });
    expect(await refusal({ BatchSize: 5 })).toEqual({
      name: 'InvalidParameterValueException',
      message:
        'The local runtime changes only ScalingConfig.MaximumConcurrency of an event source mapping; got BatchSize',
    });
    expect(await refusal({ UUID: 'no-such-uuid', ScalingConfig: { MaximumConcurrency: 4 } })).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect((await mappingOf(worker.fn.name))[0].ScalingConfig?.MaximumConcurrency).toBe(3);
  });
});

describe('PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency', () => {
  const invoke = (name: string) =>
    lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{"quick":true}') })).then(
      () => 'ran',
      (e: Error) => e.name,
    );
  const reserved = async (name: string) =>
    (await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name })))
      .ReservedConcurrentExecutions;

  it('changes the cap live: 0 throttles every invocation, a number caps them, deleting lifts it', async () => {
    expect(await reserved(other.name)).toBe(5);
    const put = await lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: other.name, ReservedConcurrentExecutions: 0 }),
    );
    expect(put.ReservedConcurrentExecutions).toBe(0);
    expect(await invoke(other.name)).toBe('TooManyRequestsException');
    await lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: other.name, ReservedConcurrentExecutions: 2 }),
    );
    expect(await reserved(other.name)).toBe(2);
    expect(await invoke(other.name)).toBe('ran');
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: other.name }));
    expect(await reserved(other.name)).toBeUndefined();
    expect(other.reservedConcurrency).toBe(Number.POSITIVE_INFINITY);
  });

  it('holds a lowered cap against invocations already running: a new one is throttled until they end', async () => {
    worker.state.phase = 3;
    await sendBodies(sqs, queueUrl, ['held-1', 'held-2']);
    await waitFor(() => worker.state.running === 2, 'two batches running');
    await lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: worker.fn.name, ReservedConcurrentExecutions: 2 }),
    );
    expect(await invoke(worker.fn.name)).toBe('TooManyRequestsException');
    expect(worker.fn.stats.throttles).toBeGreaterThanOrEqual(1);
    worker.openAll();
    await waitFor(() => worker.state.done === 14, 'both batches done');
  });

  it('refuses a negative cap and one that leaves the account under 100 unreserved', async () => {
    const refusal = (value: number) =>
      lambda
        .send(
          new PutFunctionConcurrencyCommand({
            FunctionName: other.name,
            ReservedConcurrentExecutions: value,
          }),
        )
        .then(
          () => undefined,
          (e: Error) => ({ name: e.name, message: e.message }),
        );
    expect(await refusal(-1)).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining("Value '-1' at 'reservedConcurrentExecutions'"),
    });
    // 1,000 in the account, 2 reserved by the worker: 899 leaves 99.
    expect(await refusal(899)).toEqual({
      name: 'InvalidParameterValueException',
      message:
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
    });
    expect(await refusal(898)).toBeUndefined();
    expect(await reserved(other.name)).toBe(898);
    expect(
      await lambda
        .send(new GetFunctionConcurrencyCommand({ FunctionName: 'missing' }))
        .catch((e: Error) => e.name),
    ).toBe('ResourceNotFoundException');
  });

  it('answers a body or path it cannot read as Lambda does (400, 413), never a 500', async () => {
    const raw = async (path: string, body?: string) => {
      const res = await fetch(`${server.endpoint}${path}`, {
        method: body === undefined ? 'GET' : 'PUT',
        body,
      });
      return {
        status: res.status,
        type: res.headers.get('x-amzn-errortype'),
        ...((await res.json()) as object),
      };
    };
    const put = `/2017-10-31/functions/${other.name}/concurrency`;
    expect(await raw(put, '{"ReservedConcurrentExecutions": 3')).toEqual({
      status: 400,
      type: 'InvalidRequestContentException',
      Type: 'User',
      message: 'Could not parse request body into json',
    });
    expect(await raw(put, '')).toMatchObject({
      status: 400,
      type: 'ValidationException',
      message: expect.stringContaining("Value null at 'reservedConcurrentExecutions'"),
    });
    const huge = JSON.stringify({ ReservedConcurrentExecutions: 3, pad: 'x'.repeat(70_000) });
    expect(await raw(put, huge)).toMatchObject({ status: 413, type: 'RequestEntityTooLargeException' });
    expect(await raw('/2019-09-30/functions/%E0%A4%A/concurrency')).toMatchObject({
      status: 400,
      type: 'ValidationException',
      message: 'FunctionName: not a valid percent-encoded path segment: %E0%A4%A',
    });
    expect(await raw('/2015-03-31/event-source-mappings/%E0%A4%A')).toMatchObject({
      status: 400,
      message: 'UUID: not a valid percent-encoded path segment: %E0%A4%A',
    });
    // None of them changed the reservation the test before set.
    expect(await reserved(other.name)).toBe(898);
  });
});

describe('a new account (a quota of 10)', () => {
  it('keeps its whole quota unreserved: a reservation of 0 is taken, 1 is refused naming the minimum', async () => {
    const lone = new LocalFunction({ name: 'small-account', timeoutMs: 5_000, handler: async () => 'ok' });
    const small = new InvokeServer({ functions: [lone], accountSettings: { concurrentExecutions: 10 } });
    const client = new LambdaClient({
      endpoint: await small.listen(),
      region: 'us-east-1',
      credentials: localCredentials,
      maxAttempts: 1,
    });
    try {
      const put = (value: number) =>
        client
          .send(
            new PutFunctionConcurrencyCommand({
              FunctionName: lone.name,
              ReservedConcurrentExecutions: value,
            }),
          )
          .then(
            (out) => out.ReservedConcurrentExecutions,
            (e: Error) => `${e.name}: ${e.message}`,
          );
      expect(await put(0)).toBe(0);
      expect(await put(1)).toBe(
        "InvalidParameterValueException: Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [10].",
      );
      expect(lone.reservedConcurrency).toBe(0);
    } finally {
      client.destroy();
      await small.close();
    }
  });
});
