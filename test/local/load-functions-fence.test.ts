// A killed in-process container sends nothing more to AWS (local/load-functions.ts, `fence`), retries included.
// A real worker container (its own runtime and SDK clients) against a real SQS stand-in on 127.0.0.1 that
// answers 503 (retryable): the container is marked killed as the first attempt of a SendMessage reaches the
// server, so the SDK's retries of that call (the retry middleware re-runs the steps after it) must never arrive.
// A live container's retries still do.
import { createHash } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import { EnvVars, withDefaults } from '../../lib/config.js';
import { type FunctionContainer, functionContainers } from '../../local/load-functions.js';
import { localCredentials } from '../../local/resources.js';
import { quietPowertools } from '../functions/harness.js';

quietPowertools();

let server: CountingServer;
const containers: FunctionContainer[] = [];
const unavailable = {
  status: 503,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: JSON.stringify({ __type: 'com.amazonaws.sqs#ServiceUnavailable', message: 'try again' }),
};

beforeAll(async () => {
  server = await startCountingServer();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: server.url,
    [EnvVars.CONFIG]: JSON.stringify(withDefaults({ prefix: 'fence', allowHosts: ['127.0.0.1'] })),
  });
});

afterAll(async () => {
  for (const container of containers) await container.destroy?.();
  await server?.close();
});

async function container(): Promise<FunctionContainer> {
  const made = functionContainers('worker')();
  containers.push(made);
  await made.init?.();
  return made;
}

const send = (c: FunctionContainer, body: string) =>
  c.runtime!.aws.sqs.send(
    new SendMessageCommand({ QueueUrl: `${server.url}/000000000000/dlq`, MessageBody: body }),
  );

it('a call in flight when its container is killed makes no retry', async () => {
  const killed = await container();
  const before = server.requests.length;
  server.script((req) => {
    if (req.n === before + 1) killed.timedOut?.();
    return unavailable;
  });
  const error = await send(killed, 'dead letter').catch((e: unknown) => e);
  expect(server.requests.length - before).toBe(1);
  expect(error).toMatchObject({ name: 'Sandbox.Timedout' });
  // And a new call of the killed container reaches nothing.
  await expect(send(killed, 'another')).rejects.toMatchObject({ name: 'Sandbox.Timedout' });
  expect(server.requests.length - before).toBe(1);
});

it("a live container's call is still retried", async () => {
  const live = await container();
  const before = server.requests.length;
  const md5 = createHash('md5').update('dead letter').digest('hex');
  const ok = {
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify({ MessageId: 'm-1', MD5OfMessageBody: md5 }),
  };
  server.script((req) => (req.n === before + 1 ? unavailable : ok));
  await expect(send(live, 'dead letter')).resolves.toMatchObject({ MessageId: 'm-1' });
  expect(server.requests.length - before).toBe(2);
});
