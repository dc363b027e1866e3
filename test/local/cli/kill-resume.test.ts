// `run --state DIR` survives kill -9: a real child CLI runs a manifest against a loopback server that counts
// requests per task, is killed with SIGKILL once some but not all tasks succeeded (the server's own count says
// so: no sleeps), and `run --state DIR --resume` finishes the run. Every task ends exactly once in the report's
// counts; in `task` idempotency mode no task that had succeeded is requested again (per-id request counts);
// the report covers both processes (the ledger's counts, and the first process's start).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import type { RunReport } from '../../../local/report/types.js';
import { runCli, startCli } from './cli-process.js';
import { completedBeforeKill } from './state-records.js';
import { requestsPerId, until } from './wait-and-count.js';

const TASKS = 120;
let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-resume-'));
  // Slow enough that the kill lands mid-run: 4 tasks in flight at once take 120 x 40 ms / 4 = 1.2 s in all.
  server = await startCountingServer({ delayMs: 40 });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('bounded-fanout run --state DIR, killed with SIGKILL, then --resume', () => {
  it('ends every task exactly once and, in task mode, sends no succeeded task again', async () => {
    const manifest = join(dir, 'tasks.ndjson');
    const lines = [JSON.stringify({ jobId: 'kill-resume' })];
    for (let i = 0; i < TASKS; i += 1) {
      lines.push(JSON.stringify({ id: `t${i}`, url: `${server.url}/t${i}`, mode: 'queue' }));
    }
    // One malformed task: counted invalid once, by the first process's orchestrator.
    lines.push(JSON.stringify({ id: 'bad', url: 'not a url' }));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state');
    const flags = ['--allow-host', '127.0.0.1', '--format', 'json', '--listen', '127.0.0.1:0'];
    // One message of 5 tasks per invocation, 2 invocations at once: at most 10 tasks' messages in flight.
    const limits = [
      ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2'],
      ...['--tasks-per-message', '5', '--batch-size', '1'],
    ];
    const first = startCli(['run', '--state', state, '--manifest', manifest, ...flags, ...limits]);
    await until(() => server.requests.length > 0, 'the first task');
    // A resume while the run is alive is refused in one line (exit 2), and leaves the run alone.
    const early = await runCli(['run', '--state', state, '--resume', ...flags, ...limits]);
    expect({ code: early.code, stdout: early.stdout }).toEqual({ code: 2, stdout: '' });
    expect(early.stderr).toMatch(/still running \(process \d+\)/);
    expect(early.stderr.trim().split('\n')).toHaveLength(1);
    // Some, not all: a third of the tasks answered.
    await until(() => server.requests.length >= TASKS / 3, 'a third of the tasks');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const before = requestsPerId(server, 't');
    // Requested before the kill: each once (nothing ran twice yet), some tasks and not all.
    expect([...before.values()].every((n) => n === 1)).toBe(true);
    const succeeded = await completedBeforeKill(join(state, 'dynamo'));
    expect(succeeded.size).toBeGreaterThan(0);
    expect(succeeded.size).toBeLessThan(TASKS);
    for (const id of succeeded) expect(before.get(id)).toBe(1);

    const resumed = await runCli(['run', '--state', state, '--resume', ...flags, ...limits]);
    if (!resumed.stdout.startsWith('{'))
      throw new Error(`no report (exit ${resumed.code}): ${resumed.stderr}`);
    const report = JSON.parse(resumed.stdout) as RunReport;
    expect(resumed.code).toBe(1);
    expect({
      submitted: report.submitted,
      succeeded: report.succeeded,
      deadLettered: report.deadLettered,
      invalid: report.invalid,
      unfinished: report.unfinished ?? 0,
    }).toEqual({ submitted: TASKS + 1, succeeded: TASKS, deadLettered: 0, invalid: 1, unfinished: 0 });
    const after = requestsPerId(server, 't');
    // Every task was requested; none that had succeeded before the kill was requested again. Only tasks in
    // flight at the kill (requested, not completed: at most the 2 x 2 concurrency) were requested twice.
    expect(after.size).toBe(TASKS);
    for (const id of succeeded) expect({ id, n: after.get(id) }).toEqual({ id, n: 1 });
    const twice = [...after].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.every((id) => before.has(id) && !succeeded.has(id))).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(4);
    expect([...after.values()].every((n) => n <= 2)).toBe(true);
    // The report covers both processes: the first one's start, and what was put back at the kill.
    expect(report.resumed?.idempotency).toBe('task');
    expect(Date.parse(report.resumed?.startedAt ?? '')).toBeLessThan(Date.parse(report.startedAt ?? ''));
    expect(report.runtime).toMatchObject({ unaccounted: 0 });
    expect(report.resumed?.tasks).toBeGreaterThan(0);
    // Put back: the unsettled messages, so at most the unsucceeded tasks and the 10 in flight at the kill.
    expect(report.resumed?.tasks).toBeLessThanOrEqual(TASKS - succeeded.size + 10);
  }, 120_000);

  it('in off mode ends every task once in the counts; only tasks put back at the kill ran twice', async () => {
    const manifest = join(dir, 'off.ndjson');
    const lines = [JSON.stringify({ jobId: 'kill-resume-off' })];
    for (let i = 0; i < TASKS; i += 1) {
      lines.push(JSON.stringify({ id: `o${i}`, url: `${server.url}/o${i}`, mode: 'queue' }));
    }
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-off');
    const flags = ['--allow-host', '127.0.0.1', '--format', 'json', '--listen', '127.0.0.1:0'];
    const limits = [
      ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', 'off'],
      ...['--tasks-per-message', '5', '--batch-size', '1'],
    ];
    const first = startCli(['run', '--state', state, '--manifest', manifest, ...flags, ...limits]);
    await until(() => requestsPerId(server, 'o').size >= TASKS / 3, 'a third of the tasks');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const before = requestsPerId(server, 'o');
    expect(before.size).toBeLessThan(TASKS);

    // A resume runs with the flags its run started with: given another, it is refused, naming it.
    const other = await runCli(['run', '--state', state, '--resume', '--idempotency', 'task']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--idempotency=task is not one of them/);
    // Given none of them, it takes them from the directory (off mode, the limits, --allow-host).
    const own = ['--format', 'json', '--listen', '127.0.0.1:0'];
    const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
    if (!resumed.stdout.startsWith('{'))
      throw new Error(`no report (exit ${resumed.code}): ${resumed.stderr}`);
    const report = JSON.parse(resumed.stdout) as RunReport;
    // One object, so a failure shows the status, its reason and the counts beside the exit code.
    expect({
      code: resumed.code,
      status: report.status,
      reason: report.reason,
      counts: [
        report.submitted,
        report.succeeded,
        report.deadLettered,
        report.invalid,
        report.unfinished ?? 0,
      ],
    }).toEqual({ code: 0, status: 'succeeded', reason: undefined, counts: [TASKS, TASKS, 0, 0, 0] });
    const after = requestsPerId(server, 'o');
    expect(after.size).toBe(TASKS);
    // Ran twice: only tasks requested before the kill, in the messages in flight then (at most 2 of 5 tasks),
    // and no more than the report says could have.
    const twice = [...after].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.every((id) => before.has(id))).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(10);
    expect(twice.length).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
    expect([...after.values()].every((n) => n <= 2)).toBe(true);
    expect(report.resumed?.idempotency).toBe('off');
    // Resumed again, the finished run has nothing left open: what the resume put back and settled is closed.
    const again = await runCli(['run', '--state', state, '--resume', ...own]);
    const second = JSON.parse(again.stdout) as RunReport;
    expect(second.resumed).toMatchObject({ messages: 0, tasks: 0 });
    expect([second.submitted, second.succeeded]).toEqual([TASKS, TASKS]);
    expect(requestsPerId(server, 'o')).toEqual(after);
  }, 120_000);
});
