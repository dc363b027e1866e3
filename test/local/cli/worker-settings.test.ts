// applyWorkerSettings (what `limits` does with eventSourceMaxConcurrency / workerReservedConcurrency) against
// the local runtime's real control plane (local/invoke-server.ts, local/lambda-control.ts) through the real
// @aws-sdk/client-lambda: a value the endpoint refuses is reported with the endpoint's own reason, not as an
// endpoint without the API, and a change made before the refusal is named, not hidden.
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames } from '../../../lib/config.js';
import { UsageError } from '../../../local/cli/usage-error.js';
import { applyWorkerSettings, type WorkerTarget } from '../../../local/cli/worker-settings.js';
import { InvokeServer } from '../../../local/invoke-server.js';
import { mappedSource } from '../../../local/lambda-control.js';
import { LocalFunction } from '../../../local/local-function.js';
import { EventSourcePoller } from '../../../local/poller.js';
import { localCredentials } from '../../../local/resources.js';

const names = resourceNames({ prefix: 'ws' });
const worker = new LocalFunction({ name: names.worker, timeoutMs: 1_000, handler: async () => 'ok' });
// Never started: only its maximum is read and changed.
const sqs = new SQSClient({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:9',
  credentials: localCredentials,
});
const source = {
  sqs,
  queueUrl: `http://127.0.0.1:9/000000000000/${names.queue}`,
  queueArn: `arn:aws:sqs:us-east-1:000000000000:${names.queue}`,
  worker,
  batchSize: 1,
  maxConcurrency: 10,
};
const poller = new EventSourcePoller(source);
// An account of 120: a reservation above 20 leaves fewer than Lambda's 100 unreserved.
const server = new InvokeServer({ functions: [worker], accountSettings: { concurrentExecutions: 120 } });
let target: WorkerTarget;

beforeAll(async () => {
  server.addEventSource(mappedSource(poller, source));
  const endpoint = await server.listen();
  const lambda = new LambdaClient({
    endpoint,
    region: 'us-east-1',
    credentials: localCredentials,
    maxAttempts: 1,
  });
  target = { lambda, names, endpoint };
});

afterAll(async () => {
  target?.lambda.destroy();
  sqs.destroy();
  await server.close();
});

describe('applyWorkerSettings against the local control plane', () => {
  it('applies both settings live', async () => {
    const lines = await applyWorkerSettings(target, {
      eventSourceMaxConcurrency: 4,
      workerReservedConcurrency: 6,
    });
    expect(lines).toEqual([
      `event source ${names.queue} -> ${names.worker}: maximum concurrency 4`,
      `function ${names.worker}: reserved concurrency 6`,
    ]);
    expect(poller.maxConcurrency).toBe(4);
    expect(worker.reservedConcurrency).toBe(6);
  });

  it("reports a refused value with the endpoint's reason, and names the change made before it", async () => {
    const refusal = (settings: Parameters<typeof applyWorkerSettings>[1]) =>
      applyWorkerSettings(target, settings).then(
        () => undefined,
        (e: unknown) => (e instanceof UsageError ? e.message : e),
      );
    const head = `workerReservedConcurrency: ${target.endpoint} refused it for function ${names.worker}`;
    // A raised reservation goes first: refused, nothing changed.
    expect(await refusal({ eventSourceMaxConcurrency: 3, workerReservedConcurrency: 21 })).toBe(
      `${head} (InvalidParameterValueException): Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].`,
    );
    expect([poller.maxConcurrency, worker.reservedConcurrency]).toEqual([4, 6]);
    // A lowered one goes second: the maximum was changed before the refusal, and the message says so.
    expect(await refusal({ eventSourceMaxConcurrency: 3, workerReservedConcurrency: -1 })).toBe(
      `${head} (ValidationException): 1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must be an integer greater than or equal to 0 (already made: event source ${names.queue} -> ${names.worker}: maximum concurrency 3)`,
    );
    expect([poller.maxConcurrency, worker.reservedConcurrency]).toEqual([3, 6]);
  });

  it('refuses a maximum raised alone above what the reservation in force now covers with the direct invokes', async () => {
    // The reservation is 6 now (the first test lowered it); 2 direct invokes share it with the poller.
    const withInvokes = { ...target, directInvokes: 2 };
    const error = await applyWorkerSettings(withInvokes, { eventSourceMaxConcurrency: 5 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe(
      `eventSourceMaxConcurrency: 5 + invokeConcurrency x orchestrators (2) = 7 is above function ${names.worker}'s reserved concurrency now (6): the poller would be throttled, and throttled messages count toward maxReceiveCount; give workerReservedConcurrency=7 (or more) with it`,
    );
    expect(poller.maxConcurrency).toBe(3);
    expect(await applyWorkerSettings(withInvokes, { eventSourceMaxConcurrency: 4 })).toEqual([
      `event source ${names.queue} -> ${names.worker}: maximum concurrency 4`,
    ]);
    expect(poller.maxConcurrency).toBe(4);
    // Given with a reservation, the pair is the budget's to check (lib/ledger/run-limits.ts), not the one now.
    await applyWorkerSettings(withInvokes, { eventSourceMaxConcurrency: 5, workerReservedConcurrency: 7 });
    expect([poller.maxConcurrency, worker.reservedConcurrency]).toEqual([5, 7]);
  });

  it('both raised: the reservation first, so the poller never outgrows the reservation in force', async () => {
    // 5 and 7 now (the test before): a maximum of 8 set first would run with 7 reserved for a moment.
    expect(
      await applyWorkerSettings(target, { eventSourceMaxConcurrency: 8, workerReservedConcurrency: 12 }),
    ).toEqual([
      `function ${names.worker}: reserved concurrency 12`,
      `event source ${names.queue} -> ${names.worker}: maximum concurrency 8`,
    ]);
    // Both lowered: the maximum first, so a lowered reservation never caps the old maximum.
    expect(
      await applyWorkerSettings(target, { eventSourceMaxConcurrency: 2, workerReservedConcurrency: 3 }),
    ).toEqual([
      `event source ${names.queue} -> ${names.worker}: maximum concurrency 2`,
      `function ${names.worker}: reserved concurrency 3`,
    ]);
    expect([poller.maxConcurrency, worker.reservedConcurrency]).toEqual([2, 3]);
  });
});
