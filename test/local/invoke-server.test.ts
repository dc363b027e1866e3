// The local Invoke endpoint through the real @aws-sdk/client-lambda, configured the way the handlers are:
// by AWS_ENDPOINT_URL_LAMBDA only.
import {
  GetAccountSettingsCommand,
  InvokeCommand,
  LambdaClient,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionNameOf, InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { waitFor } from './fixtures/aws.js';

const decode = (payload?: Uint8Array) => JSON.parse(Buffer.from(payload ?? []).toString('utf8'));
const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

let server: InvokeServer;
let lambda: LambdaClient;
const seen: { event: unknown; remaining: number; requestId: string }[] = [];
let flakyCalls = 0;
let gateOpen: () => void = () => {};
const gate = new Promise<void>((resolve) => {
  gateOpen = resolve;
});

beforeAll(async () => {
  const echo = new LocalFunction({
    name: 'echo',
    timeoutMs: 3_000,
    handler: async (event: unknown, context: Context) => {
      seen.push({ event, remaining: context.getRemainingTimeInMillis(), requestId: context.awsRequestId });
      return { echoed: event, functionName: context.functionName };
    },
  });
  const boom = new LocalFunction({
    name: 'boom',
    timeoutMs: 3_000,
    handler: async () => {
      throw new TypeError('scripted failure');
    },
  });
  const flaky = new LocalFunction({
    name: 'flaky',
    timeoutMs: 3_000,
    handler: async () => {
      if (++flakyCalls < 3) throw new Error(`attempt ${flakyCalls} fails`);
      return 'third time';
    },
  });
  const single = new LocalFunction({
    name: 'single',
    timeoutMs: 5_000,
    reservedConcurrency: 1,
    handler: async (event: { wait?: boolean }) => {
      if (event.wait) await gate;
      return 'done';
    },
  });
  server = new InvokeServer({ functions: [echo, boom, flaky, single], asyncRetryDelayMs: 5 });
  const endpoint = await server.listen();
  // Exactly how the handlers reach it: the standard per-service endpoint variable, nothing in code.
  process.env.AWS_ENDPOINT_URL_LAMBDA = endpoint;
  lambda = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
});

afterAll(async () => {
  gateOpen();
  lambda?.destroy();
  await server?.close();
  delete process.env.AWS_ENDPOINT_URL_LAMBDA;
});

describe('InvokeServer', () => {
  it('answers a RequestResponse invocation with the handler result and a real context', async () => {
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: 'echo',
        InvocationType: 'RequestResponse',
        Payload: encode({ n: 1 }),
      }),
    );
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(decode(out.Payload)).toEqual({ echoed: { n: 1 }, functionName: 'echo' });
    const last = seen.at(-1)!;
    expect(last.remaining).toBeGreaterThan(0);
    expect(last.remaining).toBeLessThanOrEqual(3_000);
  });

  it('accepts the function as an ARN or with a qualifier', async () => {
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:echo';
    const out = await lambda.send(new InvokeCommand({ FunctionName: arn, Payload: encode('x') }));
    expect(decode(out.Payload)).toEqual({ echoed: 'x', functionName: 'echo' });
    expect(functionNameOf('echo:live')).toBe('echo');
    expect(functionNameOf('000000000000:function:echo:3')).toBe('echo');
  });

  it('answers an Event invocation with 202 at once and runs it in the background', async () => {
    const before = seen.length;
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: encode({ async: true }) }),
    );
    expect(out.StatusCode).toBe(202);
    await server.idle();
    expect(seen.length).toBe(before + 1);
    expect(seen.at(-1)!.event).toEqual({ async: true });
    const record = server.asyncInvocations.at(-1)!;
    expect(record).toMatchObject({ functionName: 'echo', status: 'succeeded', attempts: 1, delivery: 1 });
  });

  it('reports a handler error as 200 with X-Amz-Function-Error: Unhandled and the error payload', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'boom', Payload: encode({}) }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(decode(out.Payload)).toMatchObject({ errorType: 'TypeError', errorMessage: 'scripted failure' });
  });

  it('retries a failed Event invocation twice, as Lambda does', async () => {
    await lambda.send(
      new InvokeCommand({ FunctionName: 'flaky', InvocationType: 'Event', Payload: encode({}) }),
    );
    await server.idle();
    expect(flakyCalls).toBe(3);
    expect(server.asyncInvocations.at(-1)).toMatchObject({
      functionName: 'flaky',
      status: 'succeeded',
      attempts: 3,
    });
  });

  it('answers an unknown function with 404 ResourceNotFoundException', async () => {
    const error = await lambda
      .send(new InvokeCommand({ FunctionName: 'nope', Payload: encode({}) }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);
    expect((error as Error).message).toContain('function:nope');
  });

  it('throttles a synchronous invocation above reserved concurrency, and holds an Event one until a slot frees', async () => {
    const throttled = new LambdaClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      const held = lambda.send(
        new InvokeCommand({ FunctionName: 'single', Payload: encode({ wait: true }) }),
      );
      const error = await throttled
        .send(new InvokeCommand({ FunctionName: 'single', Payload: encode({}) }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TooManyRequestsException);
      const queued = await lambda.send(
        new InvokeCommand({ FunctionName: 'single', InvocationType: 'Event', Payload: encode({}) }),
      );
      expect(queued.StatusCode).toBe(202);
      expect(server.pendingAsyncInvocations).toBe(1);
      gateOpen();
      expect(decode((await held).Payload)).toBe('done');
      await server.idle();
      expect(server.asyncInvocations.at(-1)).toMatchObject({ functionName: 'single', status: 'succeeded' });
    } finally {
      throttled.destroy();
    }
  });

  it('delivers an Event twice when asked to (fault injection for at-least-once delivery)', async () => {
    let calls = 0;
    const twice = new InvokeServer({
      functions: [new LocalFunction({ name: 'count', timeoutMs: 1_000, handler: async () => ++calls })],
      asyncDeliveries: 2,
    });
    const endpoint = await twice.listen();
    const client = new LambdaClient({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    try {
      await client.send(
        new InvokeCommand({ FunctionName: 'count', InvocationType: 'Event', Payload: encode({}) }),
      );
      await waitFor(() => twice.asyncInvocations.length === 2, 'both deliveries');
      expect(calls).toBe(2);
      expect(twice.asyncInvocations.map((r) => r.delivery).sort()).toEqual([1, 2]);
    } finally {
      client.destroy();
      await twice.close();
    }
  });

  it('answers GetAccountSettings: a quota of 1,000 less the reservations, or the numbers it is given', async () => {
    // The shared server: 'single' reserves 1, the others nothing.
    const settings = await lambda.send(new GetAccountSettingsCommand({}));
    expect(settings.AccountLimit).toMatchObject({
      ConcurrentExecutions: 1000,
      UnreservedConcurrentExecutions: 999,
    });
    expect(settings.AccountUsage).toMatchObject({ FunctionCount: 4 });
    const newAccount = new InvokeServer({
      functions: [],
      accountSettings: { concurrentExecutions: 10, unreservedConcurrentExecutions: 10 },
    });
    const client = new LambdaClient({
      region: 'us-east-1',
      endpoint: await newAccount.listen(),
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    try {
      const answer = await client.send(new GetAccountSettingsCommand({}));
      expect(answer.AccountLimit).toMatchObject({
        ConcurrentExecutions: 10,
        UnreservedConcurrentExecutions: 10,
      });
      // The path as the API reference writes it, with its trailing slash, answers too.
      const raw = await fetch(`${newAccount.endpoint}/2016-08-19/account-settings/`);
      expect(raw.status).toBe(200);
      expect(((await raw.json()) as { AccountLimit: unknown }).AccountLimit).toMatchObject({
        ConcurrentExecutions: 10,
      });
    } finally {
      client.destroy();
      await newAccount.close();
    }
    expect(
      () =>
        new InvokeServer({
          functions: [],
          accountSettings: { concurrentExecutions: 10, unreservedConcurrentExecutions: 11 },
        }),
    ).toThrow('Expected `unreservedConcurrentExecutions` to be at most concurrentExecutions (10), got 11');
  });

  it('keeps the Event invocations holdAsync picks (202, not run) and runs the others', async () => {
    const calls: unknown[] = [];
    let holding = false;
    const held = new InvokeServer({
      functions: [new LocalFunction({ name: 'next', timeoutMs: 1_000, handler: async (e) => calls.push(e) })],
      holdAsync: (name) => name === 'next' && holding,
    });
    const endpoint = await held.listen();
    const client = new LambdaClient({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    try {
      const send = (n: number) =>
        client.send(
          new InvokeCommand({ FunctionName: 'next', InvocationType: 'Event', Payload: encode({ n }) }),
        );
      expect((await send(1)).StatusCode).toBe(202);
      await held.idle();
      holding = true;
      expect((await send(2)).StatusCode).toBe(202);
      await held.idle();
      expect(calls).toEqual([{ n: 1 }]);
      expect(held.heldEvents).toEqual([{ functionName: 'next', payload: { n: 2 } }]);
    } finally {
      client.destroy();
      await held.close();
    }
  });
});
