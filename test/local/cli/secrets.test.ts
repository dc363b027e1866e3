// Issue 14, secrets: a manifest with a secret in every place a task can carry one, run through the CLI (a real
// subprocess on the local runtime) against a loopback server answering 4xx and 5xx. No secret value may appear in
// any output: the JSON and HTML reports, `--format json` on stdout, stderr with --verbose (the functions' log
// lines). `--retry-from` on that report still sends the original secret headers: it reads the manifest.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';

let dir: string;
let server: CountingServer;
/** Until set, the server fails every task: 401 for GETs, 500 for the rest. */
let succeed = false;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-secrets-'));
  server = await startCountingServer({
    script: (r) => (succeed ? undefined : { status: r.method === 'GET' ? 401 : 500 }),
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh secret per place, so a hit names the place it leaked from. */
const secret = (place: string) => `${place}-${randomBytes(9).toString('hex')}`;

describe('no secret in any output of a run', () => {
  it('greps every output for each secret value: zero hits; --retry-from still sends the secrets', async () => {
    const s = {
      bearer: secret('bearer'),
      cookie: secret('cookie'),
      apiKey: secret('apikey'),
      partner: secret('partner'),
      body: secret('body'),
      token: secret('token'),
      amzSig: secret('amzsig'),
      amzCred: secret('amzcred'),
      accessToken: secret('accesstoken'),
      user: secret('user'),
      password: secret('password'),
      crAuth: secret('crauth'),
      badJson: secret('badjson'),
      badUrl: secret('badurl'),
    };
    const secretHeaders = {
      Authorization: `Bearer ${s.bearer}`,
      Cookie: `sid=${s.cookie}`,
      'X-Api-Key': s.apiKey,
    };
    const base = server.url;
    const lines = [
      JSON.stringify({ jobId: 'leaky', defaults: { headers: { 'X-Partner-Secret': s.partner } } }),
      JSON.stringify({
        id: 'post-inline',
        url: `${base}/t/post-inline?token=${s.token}&X-Amz-Signature=${s.amzSig}&X-Amz-Credential=${s.amzCred}&page=2`,
        method: 'POST',
        headers: secretHeaders,
        body: JSON.stringify({ password: s.body }),
        mode: 'inline',
      }),
      JSON.stringify({
        id: 'get-queue',
        url: `${base}/t/get-queue?access_token=${s.accessToken}`,
        headers: secretHeaders,
        mode: 'queue',
      }),
      JSON.stringify({
        id: 'put-invoke',
        url: `${base}/t/put-invoke?api_key=${s.token}`,
        method: 'PUT',
        headers: secretHeaders,
        body: s.body,
        mode: 'invoke',
      }),
      JSON.stringify({
        id: 'userinfo',
        url: `http://${s.user}:${s.password}@127.0.0.1:${server.port}/t/userinfo`,
      }),
      JSON.stringify({ id: 'cr', url: `${base}/t/cr`, headers: { Authorization: `Bearer ${s.crAuth}\r` } }),
      `{"id":"bad-json","url":"${base}/t/x","headers":{"authorization": Bearer ${s.badJson}}}`,
      JSON.stringify({ id: 'bad-url', url: `ftp://me:${s.badUrl}@example.com/?token=${s.badUrl}` }),
    ];
    const manifest = join(dir, 'leaky.ndjson');
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const json = join(dir, 'leaky.json');
    const html = join(dir, 'leaky.html');
    const allow = ['--allow-host', `127.0.0.1:${server.port}`];
    const common = [...allow, '--max-receive-count', '1', '--format', 'json', '--verbose'];

    const run = await runCli(['run', '--manifest', manifest, '--report', json, '--report', html, ...common]);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(await readFile(json, 'utf8')) as RunReport;
    expect(report).toMatchObject({ submitted: 7, succeeded: 0, deadLettered: 3, invalid: 4 });
    // The server did get the secrets: the requests were real.
    const seen = server.requests.filter((r) => r.headers.authorization === `Bearer ${s.bearer}`);
    expect(new Set(seen.map((r) => r.path.split('?')[0]))).toEqual(
      new Set(['/t/post-inline', '/t/get-queue', '/t/put-invoke']),
    );

    const outputs: Record<string, string> = {
      'report JSON': await readFile(json, 'utf8'),
      'report HTML': await readFile(html, 'utf8'),
      stdout: run.stdout,
      stderr: run.stderr,
    };
    const tasksFile = join(dir, 'leaky.tasks.ndjson');
    if (existsSync(tasksFile)) outputs['tasks file'] = await readFile(tasksFile, 'utf8');
    const hits = Object.entries(outputs).flatMap(([where, text]) =>
      Object.values(s)
        .filter((v) => text.includes(v))
        .map((v) => `${v} in ${where}`),
    );
    expect(hits).toEqual([]);
    // What is shown instead: the redacted task, the invalid lines' errors without their values.
    const post = report.deadLetteredTasks.find((t) => t.id === 'post-inline');
    expect(post?.task).toMatchObject({
      url: `${base}/t/post-inline?token=[REDACTED]&X-Amz-Signature=[REDACTED]&X-Amz-Credential=[REDACTED]&page=2`,
      headers: {
        Authorization: '[REDACTED]',
        Cookie: '[REDACTED]',
        'X-Api-Key': '[REDACTED]',
        'X-Partner-Secret': '[REDACTED]',
      },
      body: '[REDACTED]',
    });
    const errors = Object.fromEntries(report.invalidTasks.map((t) => [t.id ?? t.line, t.error]));
    expect(errors.cr).toBe('headers.Authorization: [REDACTED] contains CR, LF or NUL');
    expect(errors.userinfo).toBe(
      `url: "http://[REDACTED]@127.0.0.1:${server.port}/t/userinfo" carries credentials in the URL (user:password@): put credentials in a header or a secret reference`,
    );
    expect(report.manifestFile).toBe(manifest);
    expect(report.manifestSha256).toMatch(/^[0-9a-f]{64}$/);

    // The retry takes the tasks whole from the manifest: the server sees every secret header again.
    succeed = true;
    const before = server.requests.length;
    const retry = await runCli(['run', '--retry-from', json, ...allow, '--format', 'json']);
    expect(retry.code, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ jobId: 'leaky-retry1', submitted: 3, succeeded: 3 });
    const again = server.requests.slice(before);
    expect(again.map((r) => r.path).sort()).toEqual([
      `/t/get-queue?access_token=${s.accessToken}`,
      `/t/post-inline?token=${s.token}&X-Amz-Signature=${s.amzSig}&X-Amz-Credential=${s.amzCred}&page=2`,
      `/t/put-invoke?api_key=${s.token}`,
    ]);
    for (const r of again) {
      expect(r.headers).toMatchObject({
        authorization: `Bearer ${s.bearer}`,
        cookie: `sid=${s.cookie}`,
        'x-api-key': s.apiKey,
        'x-partner-secret': s.partner,
      });
    }
  }, 240_000);
});
