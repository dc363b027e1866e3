// Issue 14, item 9: `--endpoint` at something that answers but is not an AWS API is one line and exit 2 (it was
// two lines of raw SDK deserialization errors and exit 1); `run --endpoint` off this machine is refused before any
// client is built. The CLI as a real subprocess; the endpoint a real loopback server.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { isLocalEndpoint } from '../../../local/cli/endpoint-flag.js';
import { runCli } from './cli-process.js';

let dir: string;
let page: CountingServer;
let missing: CountingServer;
let manifest: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-endpoint-'));
  manifest = join(dir, 'm.ndjson');
  await writeFile(manifest, '{"jobId":"x"}\n{"id":"a","url":"https://example.com/a"}\n');
  const html = { headers: { 'content-type': 'text/html' }, body: '<html>hello</html>' };
  page = await startCountingServer({ script: () => ({ status: 200, ...html }) });
  missing = await startCountingServer({ script: () => ({ status: 404, ...html }) });
});

afterAll(async () => {
  await page?.close();
  await missing?.close();
  await rm(dir, { recursive: true, force: true });
});

const notAws = (url: string, answer: string) =>
  `bounded-fanout: --endpoint ${url} answered ${answer}, which is not an AWS API (is it LocalStack or an AWS endpoint?)\n`;

describe('an endpoint that answers but is not AWS', () => {
  it.each([
    ['run', 200],
    ['redrive', 200],
    ['run', 404],
    ['redrive', 404],
  ])(
    '%s against a web page answering %i: one line, exit 2',
    async (command, status) => {
      const server = status === 200 ? page : missing;
      const args = command === 'run' ? ['run', '--manifest', manifest] : ['redrive'];
      const result = await runCli([...args, '--endpoint', server.url]);
      expect(result.stderr).toBe(notAws(server.url, `HTTP ${status} (text/html)`));
      expect(result.code).toBe(2);
    },
    60_000,
  );
});

describe('run --endpoint must be local', () => {
  it('refuses a remote endpoint in one line, exit 2, before any request', async () => {
    const result = await runCli([
      'run',
      '--manifest',
      manifest,
      '--endpoint',
      'https://sqs.us-east-1.amazonaws.com',
    ]);
    expect(result.stderr).toBe(
      'bounded-fanout: --endpoint: expected a local endpoint (localhost, a loopback address or a container name such as localstack): run plays AWS on this machine, got "https://sqs.us-east-1.amazonaws.com"\n',
    );
    expect(result.code).toBe(2);
  });

  it.each([
    ['http://127.0.0.1:4566', true],
    ['http://127.5.6.7:4566', true],
    ['http://localhost:4566', true],
    ['http://s3.localhost.localstack.cloud.localhost:4566', true],
    ['http://localstack:4566', true],
    ['http://host.docker.internal:4566', true],
    ['http://[::1]:4566', true],
    ['http://[::ffff:127.0.0.1]:4566', true],
    ['http://0x7f000001:4566', true],
    ['https://sqs.us-east-1.amazonaws.com', false],
    ['http://10.0.0.5:4566', false],
    ['http://169.254.169.254', false],
    ['http://[fd00:ec2::254]', false],
    ['http://localhost.evil.example:4566', false],
    ['http://8.8.8.8', false],
  ])('%s local: %s', (url, local) => {
    expect(isLocalEndpoint(url)).toBe(local);
  });
});
