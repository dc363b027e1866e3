// A `bounded-fanout redrive` run from a second process into a live `run --state DIR --listen`, then a kill -9 of
// the run, then `run --state DIR --resume`. The redrive moves a dead letter from the DLQ to the work queue through
// the run's endpoint; the run's journal must hold that message, or the resume (whose fresh queues hold only what
// the journal does) never runs it: the task stays dead-lettered though the operator asked for it to run again, and
// its dead letter is gone (the DLQ does not survive the kill). Killed with the redriven task in flight, the resume
// runs it; killed once its delivery had settled it (a line of the run's own journal: kill-at-journal.mjs), the
// resume runs it no more. Real children: the run, the redrive, the resume; a loopback target scripted per request.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, reportOf, runCli, startCli } from './cli-process.js';
import { until } from './wait-and-count.js';

// Each check may run a CLI child (a status read): polled every 50 ms, for a minute at most.
const SLOW_POLL = { tries: 1_200, everyMs: 50 };

const killAtJournal = new URL('./kill-at-journal.mjs', import.meta.url).href;

let dir: string;
let target: { url: string; close: () => Promise<void> };
/** Requests per path (`<case>/<task>`). */
const requests = new Map<string, number>();
/** Held answers: `h0` keeps the run live, and in the `in flight` case the redriven `d0` stays in flight. */
const held: ServerResponse[] = [];
/** While the first process runs: `d0` fails for good once, then is held or answered, `h0` held. Later all 200. */
let firstProcess = true;
let run: CliRun | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-redrive-'));
  const server = createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '').slice(1);
    const n = (requests.get(path) ?? 0) + 1;
    requests.set(path, n);
    if (!firstProcess) return void res.end('ok');
    if (path.endsWith('/d0') && n === 1) {
      res.statusCode = 400;
      return void res.end('refused');
    }
    if (path === 'settled/d0') return void res.end('ok');
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held.splice(0)) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});

afterAll(async () => {
  if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

const flags = ['--allow-host', '127.0.0.1', '--format', 'json', '--listen', '127.0.0.1:0'];
// One task a message, one message a batch: `d0`'s dead letter never waits at a batch's settle for held `h0`.
const limits = ['--tasks-per-message', '1', '--batch-size', '1', '--idempotency', 'message'];

/** Starts the run of `d0` and `h0` and waits until `d0` is dead-lettered (counted, in the DLQ); its endpoint. */
async function liveRun(name: string, state: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const manifest = join(dir, `${name}.ndjson`);
  const tasks = ['d0', 'h0'].map((id) => ({ id, url: `${target.url}/${name}/${id}`, mode: 'queue' }));
  const lines = [{ jobId: name, runId: 'r1' }, ...tasks];
  await writeFile(manifest, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  run = startCli(['run', '--state', state, '--manifest', manifest, ...flags, ...limits], env);
  await run.waitFor(/\[bounded-fanout\] endpoint: http:\/\/127\.0\.0\.1:\d+/);
  const endpoint = /\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output().stderr)![1];
  const deadLettered = async () => {
    const out = await runCli([
      'status',
      '--endpoint',
      endpoint,
      '--job',
      name,
      '--run',
      'r1',
      '--format',
      'json',
    ]);
    return out.code === 0 ? (JSON.parse(out.stdout) as { deadLettered?: number }).deadLettered : undefined;
  };
  await until(
    async () => requests.get(`${name}/h0`) === 1 && (await deadLettered()) === 1,
    'd0 dead-lettered',
    SLOW_POLL,
  );
  return endpoint;
}

describe('a redrive into a live `run --state DIR`, the run killed, then --resume', () => {
  it('killed with the redriven task in flight: the resume runs it, and it ends succeeded, not dead-lettered', async () => {
    const state = join(dir, 'state-in-flight');
    const endpoint = await liveRun('flight', state);
    const redriven = await runCli(['redrive', '--endpoint', endpoint, '--format', 'json']);
    expect(redriven.code).toBe(0);
    expect(JSON.parse(redriven.stdout)).toMatchObject({ moved: 1 });
    await until(() => requests.get('flight/d0') === 2, 'the redriven d0 in flight', SLOW_POLL);
    run!.child.kill('SIGKILL');
    expect((await run!.done).signal).toBe('SIGKILL');

    firstProcess = false;
    const resumed = await runCli(['run', '--state', state, '--resume', ...flags]);
    const report = reportOf(resumed);
    expect([report.submitted, report.succeeded, report.deadLettered, report.unfinished ?? 0]).toEqual([
      2, 2, 0, 0,
    ]);
    expect(resumed.code).toBe(0);
    // Both put back unsettled, the redriven one as the task message its delivery made of it.
    expect(report.resumed).toMatchObject({ messages: 2, tasks: 2, settled: 0 });
    // `d0`: its first delivery's 400, the redriven delivery cut by the kill, the resume's; `h0`: killed, resumed.
    expect([requests.get('flight/d0'), requests.get('flight/h0')]).toEqual([3, 2]);
  }, 180_000);

  it('killed once the redriven task’s delivery settled it, before the journal closed it: the resume runs it no more', async () => {
    firstProcess = true;
    const state = join(dir, 'state-settled');
    const killed = { NODE_OPTIONS: `--import=${killAtJournal}` };
    const kill = { BF_KILL_AT: JSON.stringify({ at: 'settled', body: ['"dead-letter"', '/settled/d0'] }) };
    const endpoint = await liveRun('settled', state, { ...killed, ...kill });
    // The run may die before the redrive's delete of the dead letter: whatever the redrive says then, the DLQ is gone.
    await runCli(['redrive', '--endpoint', endpoint, '--format', 'json']);
    expect((await run!.done).signal).toBe('SIGKILL');
    expect(requests.get('settled/d0')).toBe(2);

    firstProcess = false;
    const resumed = await runCli(['run', '--state', state, '--resume', ...flags]);
    const report = reportOf(resumed);
    expect([report.submitted, report.succeeded, report.deadLettered, report.unfinished ?? 0]).toEqual([
      2, 2, 0, 0,
    ]);
    // Found settled under the key its delivery had, so sent back as a later receive that runs nothing.
    expect(report.resumed).toMatchObject({ messages: 2, tasks: 1, settled: 1 });
    expect([requests.get('settled/d0'), requests.get('settled/h0')]).toEqual([2, 2]);
  }, 180_000);
});
