// The job ledger steered from a second process while a real `bounded-fanout run` works: status, pause,
// limits, resume and cancel through the run's printed endpoint, as a user in a second terminal would. A
// loopback target counts every request by task id, so what ran, and how often, is known exactly.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import type { RunReport } from '../../../local/report/types.js';
import { type CliRun, runCli, startCli } from './cli-process.js';

const TASKS = 300;
let dir: string;
let server: CountingServer;
let run: CliRun | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-control-'));
  server = await startCountingServer({ delayMs: 50 });
});

afterAll(async () => {
  if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const ids = () => server.requests.map((r) => r.path.slice(1));

async function control(endpoint: string, ...args: string[]) {
  return runCli([...args, '--endpoint', endpoint, '--job', 'live']);
}

async function status(endpoint: string): Promise<Record<string, unknown>> {
  const out = await control(endpoint, 'status', '--run', 'r1', '--format', 'json');
  expect(out.code).toBe(0);
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

/** Waits (bounded) until the target has seen at least `n` requests. */
async function requestsReach(n: number): Promise<void> {
  for (let i = 0; i < 600 && server.requests.length < n; i++) await sleep(100);
  expect(server.requests.length).toBeGreaterThanOrEqual(n);
}

/** Waits (bounded) until the target has seen no new request for `ms`; returns the count then. */
async function quietFor(ms: number): Promise<number> {
  let count = server.requests.length;
  let since = Date.now();
  for (let i = 0; i < 600 && Date.now() - since < ms; i++) {
    await sleep(100);
    if (server.requests.length !== count) [count, since] = [server.requests.length, Date.now()];
  }
  expect(Date.now() - since).toBeGreaterThanOrEqual(ms);
  return count;
}

describe('steering a running run from a second process', () => {
  it('status, pause, limits, resume and cancel reach the running run; every task ends once in the counts', async () => {
    const manifest = join(dir, 'live.ndjson');
    const lines = [JSON.stringify({ jobId: 'live', runId: 'r1' })];
    for (let i = 0; i < TASKS; i++) lines.push(JSON.stringify({ id: `t${i}`, url: `${server.url}/t${i}` }));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const report = join(dir, 'live.json');
    run = startCli([
      'run',
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      '--listen',
      '127.0.0.1:0',
      '--worker-concurrency',
      '2',
      '--per-invocation-concurrency',
      '2',
      '--tasks-per-message',
      '5',
      '--report',
      report,
    ]);
    await run.waitFor(/\[bounded-fanout\] endpoint: http:\/\/127\.0\.0\.1:\d+/);
    const endpoint = /\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output().stderr)![1];
    await requestsReach(10);

    expect(await status(endpoint)).toMatchObject({
      jobId: 'live',
      runId: 'r1',
      status: 'running',
      submitted: TASKS,
    });

    expect((await control(endpoint, 'pause')).code).toBe(0);
    expect((await status(endpoint)).status).toBe('paused');
    // The workers see the pause within their 2 s cache; tasks already running finish. Then nothing starts:
    // once no request has come for longer than the cache's age, none comes in the next 2 s either.
    const whilePaused = await quietFor(2_500);
    await sleep(2_000);
    expect(server.requests.length).toBe(whilePaused);

    expect((await control(endpoint, 'limits', 'perInvocationConcurrency=1')).code).toBe(0);
    expect((await status(endpoint)).limits).toEqual({ perInvocationConcurrency: 1 });

    expect((await control(endpoint, 'resume')).code).toBe(0);
    await requestsReach(whilePaused + 5);

    expect((await control(endpoint, 'cancel')).code).toBe(0);
    const result = await run.done;
    // Cancelled: not every task succeeded.
    expect(result.code).toBe(1);
    const json = JSON.parse(await readFile(report, 'utf8')) as RunReport;
    const ran = ids();
    expect(new Set(ran).size).toBe(ran.length); // no task ran twice
    expect(json).toMatchObject({ jobId: 'live', runId: 'r1', status: 'cancelled', reason: 'cancelled' });
    expect(json.submitted).toBe(TASKS);
    expect(json.succeeded).toBe(ran.length);
    expect(json.cancelled).toBe(TASKS - ran.length);
    expect(json.cancelled).toBeGreaterThan(0);
    expect(json.deadLettered).toBe(0);
  }, 180_000);
});
