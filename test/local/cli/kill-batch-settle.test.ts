// `run --state DIR --resume` after a kill -9 of a run whose worker takes batches of several messages
// (`--batch-size 4`), in `off` idempotency mode, where nothing but the resume keeps a task from running twice.
// The poller journals a batch's messages settled only once the worker's invocation returns, so a message is
// open in the journal from its receive until then. Two kills, each of a real child CLI, against a loopback
// target counting requests per task:
// - at the batch's settle line (the child kills itself there: kill-at-journal.mjs): every message of the batch
//   was settled in the ledger and its tasks done. Before the resume read the ledger (local/settled-open.ts)
//   they were all put back and every task ran again, though none was in flight;
// - with one task of the batch held by the target: the others had answered, but the batch settles together
//   (functions/batch-settles.ts), so none of its messages was settled in the ledger: their tasks had not ended
//   in the run's accounting, they were in flight (the messages put back, docs/cli.md), may run twice, and the
//   report's put-back count says so.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import type { RunReport } from '../../../local/report/types.js';
import { reportOf, runCli, startCli } from './cli-process.js';

const killAtJournal = new URL('./kill-at-journal.mjs', import.meta.url).href;
const TASKS = 4;

let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-batch-'));
  // A task whose path ends `/held` never answers its first request (the killed process's); later ones, at once.
  // One whose path ends `/retried` answers its first delivery's 4 attempts 503: its message is retried.
  server = await startCountingServer({
    script: (request) => {
      const seen = server.requests.filter((r) => r.path === request.path).length;
      if (request.path.endsWith('/held')) return seen === 1 ? { stall: 'headers' } : undefined;
      return request.path.endsWith('/retried') && seen <= 4 ? { status: 503 } : undefined;
    },
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];
// One message per task, up to 4 messages per invocation, every task of a batch at once.
const limits = ['--idempotency', 'off', '--tasks-per-message', '1', '--batch-size', '4'];

/** A manifest of `paths` under the target, one queued task each, retries 1 s after a failure; its file. */
async function manifestOf(name: string, paths: readonly string[]): Promise<string> {
  const lines = [JSON.stringify({ jobId: name, limits: { retryDelaySeconds: 1 } })];
  for (const [i, path] of paths.entries())
    lines.push(JSON.stringify({ id: `${name}-${i}`, url: `${server.url}/${name}/${path}`, mode: 'queue' }));
  const file = join(dir, `${name}.ndjson`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** Requests per path of job `name`. */
function requestsOf(name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { path } of server.requests)
    if (path.startsWith(`/${name}/`)) counts.set(path, (counts.get(path) ?? 0) + 1);
  return counts;
}

const countsOf = (r: RunReport) => [r.submitted, r.succeeded, r.deadLettered, r.invalid, r.unfinished ?? 0];

describe('bounded-fanout run --state DIR --resume, batches of several messages, idempotency off', () => {
  it('killed at a batch’s settle line: no task of the batch runs again', async () => {
    const name = 'batch-settled';
    // The retried task keeps the run from ending before the kill (a run that ended runs no task put back).
    const manifest = await manifestOf(name, ['b0', 'b1', 'b2', 'retried']);
    const state = join(dir, `state-${name}`);
    const first = startCli(
      ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1', ...own, ...limits],
      // Killed just before the journal closes the batch holding b0's message (its invocation had returned).
      {
        NODE_OPTIONS: `--import=${killAtJournal}`,
        BF_KILL_AT: JSON.stringify({ at: 'settled', body: `/${name}/b0"` }),
      },
    );
    expect((await first.done).signal).toBe('SIGKILL');
    const before = requestsOf(name);
    expect(before.get(`/${name}/b0`)).toBe(1);

    const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
    expect(countsOf(report)).toEqual([TASKS, TASKS, 0, 0, 0]);
    const after = requestsOf(name);
    expect(after.size).toBe(TASKS);
    // b0 was settled and done: not run again (it was, with its batch, before the resume read the ledger).
    expect(after.get(`/${name}/b0`)).toBe(1);
    // The retried task: its first delivery's 4 requests and its retry's 1, had it been in b0's batch or not.
    expect(after.get(`/${name}/retried`)).toBe(5);
    // Any other ran twice only if it was in flight then (another invocation's), as the report counts.
    const others = new Map([...after].filter(([path]) => !path.endsWith('/retried')));
    const twice = [...others].filter(([, n]) => n > 1).map(([path]) => path);
    expect([...others.values()].every((n) => n <= 2)).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
    expect(report.resumed?.settled).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('killed with one task of the batch held: the batch’s answered tasks were in flight, and counted so', async () => {
    const name = 'batch-held';
    const manifest = await manifestOf(name, ['a0', 'a1', 'a2', 'held']);
    const state = join(dir, `state-${name}`);
    const first = startCli([
      'run',
      '--state',
      state,
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      ...own,
      ...limits,
    ]);
    // Every task requested: three answered, the fourth held. The batch waits for it before it settles.
    for (let i = 0; i < 600 && requestsOf(name).size < TASKS; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(requestsOf(name).size).toBe(TASKS);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');

    const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
    expect(countsOf(report)).toEqual([TASKS, TASKS, 0, 0, 0]);
    const after = requestsOf(name);
    // All four ran twice: one batch (the four messages were sent together and taken by one receive), none of
    // its messages settled at the kill. Each ran at most twice, and the report said all four could have.
    expect([...after.values()]).toEqual([2, 2, 2, 2]);
    expect([report.resumed?.tasks, report.resumed?.settled ?? 0]).toEqual([TASKS, 0]);
  }, 120_000);
});
