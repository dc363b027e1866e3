// The orchestrator's dead-letter queue, locally: an Event invocation through the real Invoke endpoint and
// @aws-sdk/client-lambda that fails every attempt (1 + Lambda's 2 retries) ends as exactly one message in the
// orchestrator's DLQ on the SQS emulator, its body the event and its attributes the error; one that succeeds on
// a retry, or a failing function the stack gives no DLQ (the worker), leaves the queue empty. Then the same
// through `serve` (the runtime in process) with the real orchestrator, made to fail by its job table's removal.
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames } from '../../lib/config.js';
import { asyncDeadLetters, errorMessageOf, MAX_ERROR_MESSAGE_BYTES } from '../../local/async-dead-letters.js';
import { InvokeServer } from '../../local/invoke-server.js';
import { LocalFunction } from '../../local/local-function.js';
import { type LocalResources, localCredentials } from '../../local/resources.js';
import { startServeRuntime } from '../../local/serve-runtime.js';
import { freshResources, uniquePrefix, waitFor } from './fixtures/aws.js';

let sqs: SQSClient;
let resources: LocalResources;
let server: InvokeServer;
let lambda: LambdaClient;
let names: ReturnType<typeof resourceNames>;
/** Attempts per event id, and how many attempts each id fails before it succeeds. */
const attempts = new Map<string, number>();

beforeAll(async () => {
  const fresh = await freshResources('odlq');
  ({ sqs, resources } = fresh);
  names = resourceNames(fresh.config);
  const failing = (name: string) =>
    new LocalFunction({
      name,
      timeoutMs: 3_000,
      handler: async (event: { id: string; failures: number }) => {
        const n = (attempts.get(event.id) ?? 0) + 1;
        attempts.set(event.id, n);
        if (n <= event.failures) throw new Error(`attempt ${n} of ${event.id} fails`);
        return { ran: event.id };
      },
    });
  server = new InvokeServer({
    functions: [failing(names.orchestrator), failing(names.worker)],
    asyncRetryDelayMs: 5,
    deadLetters: asyncDeadLetters(sqs, { [names.orchestrator]: resources.orchestratorDeadLetterQueueUrl }),
  });
  const endpoint = await server.listen();
  lambda = new LambdaClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  lambda?.destroy();
  await server?.close();
  sqs?.destroy();
});

async function invokeEvent(functionName: string, event: unknown): Promise<void> {
  const out = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'Event',
      Payload: JSON.stringify(event),
    }),
  );
  expect(out.StatusCode).toBe(202);
  await server.idle();
}

/** Everything in the orchestrator's DLQ, left there (visibility 0) for the next look. */
async function deadLetters(client = sqs, queueUrl = resources.orchestratorDeadLetterQueueUrl) {
  const { Messages = [] } = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages;
}

describe('the orchestrator dead-letter queue (local)', () => {
  it('an event that succeeds on its last retry, or fails in the worker (no DLQ), leaves the queue empty', async () => {
    await invokeEvent(names.orchestrator, { id: 'late', failures: 2 });
    await invokeEvent(names.worker, { id: 'worker', failures: 99 });
    expect(attempts.get('late')).toBe(3);
    expect(attempts.get('worker')).toBe(3);
    const records = server.asyncInvocations;
    expect(records.map((r) => [r.functionName, r.status, r.attempts, r.deadLettered])).toEqual([
      [names.orchestrator, 'succeeded', 3, undefined],
      [names.worker, 'failed', 3, false],
    ]);
    expect(await deadLetters()).toEqual([]);
  });

  it('an event that fails every attempt lands once, its body the event and its attributes the error', async () => {
    const event = { id: 'doomed', failures: 99, manifest: 's3://bucket/manifests/job.ndjson' };
    await invokeEvent(names.orchestrator, event);
    expect(attempts.get('doomed')).toBe(3);
    const record = server.asyncInvocations.at(-1)!;
    expect(record).toMatchObject({ functionName: names.orchestrator, status: 'failed', deadLettered: true });
    const messages = await deadLetters();
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(JSON.parse(message!.Body!)).toEqual(event);
    expect(message!.MessageAttributes).toEqual({
      RequestID: { DataType: 'String', StringValue: record.requestId },
      ErrorCode: { DataType: 'Number', StringValue: '200' },
      ErrorMessage: { DataType: 'String', StringValue: 'attempt 3 of doomed fails' },
    });
  });

  it("keeps Lambda's first 1 KB of a long error message, on a character boundary", () => {
    const long = errorMessageOf(new Error('é'.repeat(MAX_ERROR_MESSAGE_BYTES)));
    expect(long).toBe('é'.repeat(MAX_ERROR_MESSAGE_BYTES / 2));
    expect(errorMessageOf(new Error(`${'x'.repeat(MAX_ERROR_MESSAGE_BYTES - 1)}é`))).toBe(
      'x'.repeat(MAX_ERROR_MESSAGE_BYTES - 1),
    );
    expect(errorMessageOf(new Error(''))).toBe('Unhandled');
  });
});

describe('the orchestrator dead-letter queue in serve', () => {
  it("holds the real orchestrator's event once it failed every attempt; a synchronous failure is not added", async () => {
    const serve = await startServeRuntime({
      config: { prefix: uniquePrefix('odlqs') },
      listen: { host: '127.0.0.1', port: 0 },
    });
    const client = { endpoint: serve.endpoint, region: 'us-east-1', credentials: localCredentials };
    const dynamodb = new DynamoDBClient(client);
    const serveLambda = new LambdaClient(client);
    const serveSqs = new SQSClient(client);
    try {
      // Without its job table the orchestrator cannot open the run: an AWS error, thrown, so retried.
      await dynamodb.send(new DeleteTableCommand({ TableName: serve.resources.jobTable }));
      const event = { jobId: 'doomed', tasks: [{ id: 't1', url: 'http://127.0.0.1:9/never' }] };
      const invoke = (InvocationType: 'Event' | 'RequestResponse') =>
        serveLambda.send(
          new InvokeCommand({
            FunctionName: serve.names.orchestrator,
            InvocationType,
            Payload: JSON.stringify(event),
          }),
        );
      expect((await invoke('Event')).StatusCode).toBe(202);
      const queueUrl = serve.resources.orchestratorDeadLetterQueueUrl;
      await waitFor(async () => (await deadLetters(serveSqs, queueUrl)).length > 0, 'the dead letter');
      const sync = await invoke('RequestResponse');
      expect(sync.FunctionError).toBe('Unhandled');
      const messages = await deadLetters(serveSqs, queueUrl);
      expect(messages).toHaveLength(1);
      expect(JSON.parse(messages[0]!.Body!)).toEqual(event);
      expect(messages[0]!.MessageAttributes?.ErrorCode?.StringValue).toBe('200');
      expect(messages[0]!.MessageAttributes?.ErrorMessage?.StringValue).toMatch(/not found/i);
    } finally {
      dynamodb.destroy();
      serveLambda.destroy();
      serveSqs.destroy();
      await serve.stop();
    }
  }, 60_000);
});
