// Issue 14 item 2 through the real worker and orchestrator: header references resolved by Powertools and the
// AWS SDK against the local endpoint's secret store (local/edge.ts, local/secret-store.ts), the values
// arriving at a loopback server, one GetSecretValue per reference per container within maxAgeSeconds, and a
// reference that does not resolve failing its task alone (dead-lettered, the error naming the reference).
import { randomBytes } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { EnvVars, type FanoutConfig } from '../../lib/config.js';
import {
  type DeadLetterTask,
  MESSAGE_VERSION,
  MessageKinds,
  readDeadLetterBody,
  type TaskMessage,
} from '../../lib/fanout/messages.js';
import type { JobTask } from '../../lib/manifest/schema.js';
import { Edge } from '../../local/edge.js';
import { SecretStore } from '../../local/secret-store.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, sqsEvent, startHarness } from './harness.js';

quietPowertools();

const ARN = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`;
const value = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const values = {
  bearer: `Bearer ${value('bearer')}`,
  apiKey: value('apikey'),
  token: value('token'),
  local: value('local'),
};

let h: Harness;
let edge: Edge;
let store: SecretStore;
let server: CountingServer;
const runtimes: FunctionRuntime[] = [];
let seq = 0;

type Handler = (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<unknown>;

beforeAll(async () => {
  store = new SecretStore({
    'bounded-fanout/partner': values.bearer,
    'bounded-fanout/keys': JSON.stringify({ apiKey: values.apiKey, other: 'x' }),
    '/bounded-fanout/partner/token': values.token,
  });
  edge = await Edge.start({ upstreams: {}, listen: { host: '127.0.0.1', port: 0 }, secretStore: store });
  server = await startCountingServer({});
  h = await startHarness(
    { perInvocationConcurrency: 8 },
    {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: edge.url,
      AWS_ENDPOINT_URL_SSM: edge.url,
      PARTNER_LOCAL: values.local,
    },
  );
});

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy();
  await server?.close();
  await edge?.close();
  h?.destroy();
});

/** A container of its own (so its own resolver and cache), with `env` over the harness's. */
async function container(env: NodeJS.ProcessEnv = {}, overrides: Partial<FanoutConfig> = {}) {
  const { createRuntime } = await import('../../functions/runtime.js');
  const config = JSON.parse(h.env[EnvVars.CONFIG]!);
  const runtime = createRuntime({
    ...h.env,
    ...env,
    [EnvVars.CONFIG]: JSON.stringify({ ...config, ...overrides }),
  });
  runtimes.push(runtime);
  return runtime;
}

async function worker(runtime: FunctionRuntime): Promise<Handler> {
  const { createWorkerHandler } = await import('../../functions/worker.js');
  return createWorkerHandler(() => runtime) as Handler;
}

const task = (id: string, headers: JobTask['headers']): JobTask => ({
  id,
  url: `${server.url}/${id}`,
  mode: 'queue',
  headers,
});

/** One message of `tasks` through one worker invocation; resolves to what was dead-lettered. */
async function runBatch(handler: Handler, tasks: readonly JobTask[]): Promise<DeadLetterTask[]> {
  const message: TaskMessage = {
    v: MESSAGE_VERSION,
    kind: MessageKinds.TASKS,
    jobId: 'secrets',
    runId: 'run1',
    key: `secrets:run1:${seq++}`,
    attempt: 1,
    tasks,
  };
  await h.sqs.send(
    new SendMessageCommand({ QueueUrl: h.resources.queueUrl, MessageBody: JSON.stringify(message) }),
  );
  const received = await drainQueue(h.sqs, h.resources.queueUrl);
  const response = (await handler(sqsEvent(received), fakeContext())) as SQSBatchResponse;
  expect(response.batchItemFailures).toEqual([]);
  const dead: DeadLetterTask[] = [];
  for (const m of await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)) {
    const body = readDeadLetterBody(m.Body!);
    if (body.kind === 'dead-letter') dead.push(...body.message.tasks);
  }
  return dead;
}

const seen = (id: string) => server.requests.filter((r) => r.path === `/${id}`).map((r) => r.headers);

describe('secret references in the functions', () => {
  it('sends the resolved values, with one GetSecretValue and one GetParameter per reference for 16 tasks', async () => {
    const handler = await worker(await container());
    const before = { ...store.calls };
    const tasks = Array.from({ length: 16 }, (_, i) =>
      task(`ok${i}`, {
        authorization: { secret: ARN('bounded-fanout/partner') },
        'x-partner-key': { secret: ARN('bounded-fanout/keys-AbCdEf'), jsonKey: 'apiKey' },
        'x-token': { ssm: '/bounded-fanout/partner/token' },
        accept: 'application/json',
      }),
    );
    expect(await runBatch(handler, tasks)).toEqual([]);
    for (let i = 0; i < 16; i++) {
      expect(seen(`ok${i}`)).toEqual([
        expect.objectContaining({
          authorization: values.bearer,
          'x-partner-key': values.apiKey,
          'x-token': values.token,
          accept: 'application/json',
        }),
      ]);
    }
    // Two secrets (the JSON one by its ARN with the random suffix), one parameter: one call each.
    expect(store.calls.GetSecretValue - before.GetSecretValue).toBe(2);
    expect(store.calls.GetParameter - before.GetParameter).toBe(1);

    // A second invocation of the same container, within maxAgeSeconds: the cache answers.
    const again = await runBatch(handler, [
      task('again', { authorization: { secret: ARN('bounded-fanout/partner') } }),
    ]);
    expect(again).toEqual([]);
    expect(seen('again')[0].authorization).toBe(values.bearer);
    expect(store.calls.GetSecretValue - before.GetSecretValue).toBe(2);
  }, 60_000);

  it('reads again in each new container, and on every task with maxAgeSeconds 0', async () => {
    const config = JSON.parse(h.env[EnvVars.CONFIG]!) as FanoutConfig;
    const handler = await worker(await container({}, { secrets: { ...config.secrets, maxAgeSeconds: 0 } }));
    const before = store.calls.GetParameter;
    for (const id of ['n1', 'n2', 'n3']) {
      expect(
        await runBatch(handler, [task(id, { 'x-token': { ssm: '/bounded-fanout/partner/token' } })]),
      ).toEqual([]);
    }
    expect(store.calls.GetParameter - before).toBe(3);
  }, 60_000);

  it('dead-letters a task whose reference does not resolve, naming it; its neighbours succeed', async () => {
    const handler = await worker(await container());
    const missing = ARN('bounded-fanout/missing');
    const dead = await runBatch(handler, [
      task('n-before', { authorization: { secret: ARN('bounded-fanout/partner') } }),
      task('missing', { authorization: { secret: missing } }),
      task('no-key', { 'x-k': { secret: ARN('bounded-fanout/keys'), jsonKey: 'nope' } }),
      task('outside', { 'x-k': { ssm: '/other/token' } }),
      task('env-in-lambda', { 'x-k': { env: 'PARTNER_LOCAL' } }),
      task('n-after', { 'x-token': { ssm: '/bounded-fanout/partner/token' } }),
    ]);
    expect(Object.fromEntries(dead.map((d) => [d.task.id, [d.attempts, d.error]]))).toEqual({
      missing: [
        1,
        `BF_SECRET_UNAVAILABLE: headers.authorization: secret ${missing} could not be read (ResourceNotFoundException)`,
      ],
      'no-key': [
        1,
        `BF_SECRET_UNAVAILABLE: headers.x-k: secret ${ARN('bounded-fanout/keys')} (jsonKey "nope") has no string field "nope"`,
      ],
      outside: [
        1,
        'BF_SECRET_REFUSED: headers.x-k: ssm parameter /other/token is refused: it is outside secrets.ssmPrefix "/bounded-fanout/", the only names this stack may read',
      ],
      'env-in-lambda': [
        1,
        'BF_SECRET_REFUSED: headers.x-k: environment variable PARTNER_LOCAL is refused: environment references are read by the local runtime only (use "secret" or "ssm" in AWS)',
      ],
    });
    // The dead letter keeps the reference, never the value: a redrive resolves it again.
    expect(dead.find((d) => d.task.id === 'missing')?.task.headers).toEqual({
      authorization: { secret: missing },
    });
    expect(seen('n-before')[0].authorization).toBe(values.bearer);
    expect(seen('n-after')[0]['x-token']).toBe(values.token);
    for (const id of ['missing', 'no-key', 'outside', 'env-in-lambda']) expect(seen(id)).toEqual([]);
  }, 60_000);

  it("reads an env reference where the local runtime allows it, never the runtime's own variables", async () => {
    const handler = await worker(await container({ [EnvVars.SECRETS_FROM_ENV]: '1' }));
    const dead = await runBatch(handler, [
      task('env-ok', { 'x-local': { env: 'PARTNER_LOCAL' } }),
      task('env-own', { 'x-local': { env: 'AWS_SECRET_ACCESS_KEY' } }),
      task('env-unset', { 'x-local': { env: 'NOT_SET_ANYWHERE_1' } }),
    ]);
    expect(seen('env-ok')[0]['x-local']).toBe(values.local);
    expect(dead.map((d) => [d.task.id, d.error])).toEqual([
      [
        'env-own',
        "BF_SECRET_REFUSED: headers.x-local: environment variable AWS_SECRET_ACCESS_KEY is refused: the runtime's own variables (AWS_*, BOUNDED_FANOUT_*) are never sent",
      ],
      [
        'env-unset',
        'BF_SECRET_UNAVAILABLE: headers.x-local: environment variable NOT_SET_ANYWHERE_1 is not set',
      ],
    ]);
  }, 60_000);

  it("resolves the orchestrator's inline tasks the same way", async () => {
    const runtime = await container();
    const { createOrchestratorHandler } = await import('../../functions/orchestrator.js');
    const orchestrator = createOrchestratorHandler(() => runtime) as Handler;
    const result = (await orchestrator(
      {
        jobId: 'inline-secrets',
        tasks: [
          {
            ...task('inline-ok', { authorization: { secret: ARN('bounded-fanout/partner') } }),
            mode: 'inline',
          },
          { ...task('inline-missing', { authorization: { ssm: '/bounded-fanout/nope' } }), mode: 'inline' },
        ],
      },
      fakeContext(),
    )) as OrchestratorResult;
    expect(seen('inline-ok')[0].authorization).toBe(values.bearer);
    expect(seen('inline-missing')).toEqual([]);
    // toleratedFailurePercent is 100 by default: the run ends succeeded, with its failure dead-lettered.
    expect(result.status).toBe('succeeded');
    const dead = (await drainQueue(h.sqs, h.resources.deadLetterQueueUrl)).flatMap((m) => {
      const body = readDeadLetterBody(m.Body!);
      return body.kind === 'dead-letter' ? body.message.tasks : [];
    });
    // The result object: the failed task with its reference and error, and no resolved value anywhere.
    const { ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const listed = await runtime.aws.s3.send(
      new ListObjectsV2Command({
        Bucket: h.resources.bucket,
        Prefix: `${h.config.resultsPrefix}inline-secrets/`,
      }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.length).toBeGreaterThan(0);
    const texts = await Promise.all(
      keys.map(async (Key) => {
        const out = await runtime.aws.s3.send(new GetObjectCommand({ Bucket: h.resources.bucket, Key }));
        return out.Body!.transformToString();
      }),
    );
    const all = texts.join('\n');
    expect(all).toContain('ssm parameter /bounded-fanout/nope could not be read (ParameterNotFound)');
    expect(Object.values(values).filter((v) => all.includes(v) || all.includes(v.split(' ').pop()!))).toEqual(
      [],
    );
    expect(dead.map((d) => [d.task.id, d.error])).toEqual([
      [
        'inline-missing',
        'BF_SECRET_UNAVAILABLE: headers.authorization: ssm parameter /bounded-fanout/nope could not be read (ParameterNotFound)',
      ],
    ]);
  }, 60_000);
});
