// `run --state DIR --resume` after a kill -9 while the orchestrator is still reading the manifest: a real CLI
// child whose orchestrator runs two inline tasks one at a time (`--inline-concurrency 1`), the first held by a
// loopback target, so its reading waits at the second with half the manifest's queue tasks sent and some run
// (a counting server answers those). Killed there, the resume runs the first segment again as a copy of it
// (local/segment-reread.ts): the same run, every task counted once; in `task` mode no task that had succeeded
// is requested again, in `off` mode only tasks in flight at the kill and the re-run inline ones, no more than
// the report's `resumed.tasks` says could have.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { JOURNAL_FILE } from '../../../local/queue-journal.js';
import { reportOf, runCli, startCli } from './cli-process.js';
import { type HeldTarget, heldReach, startHeldTarget } from './held-target.js';
import { completedBeforeKill } from './state-records.js';
import { requestsPerId, until } from './wait-and-count.js';

const HALF = 60;
let dir: string;
let server: CountingServer;
let target: HeldTarget;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-mid-read-'));
  server = await startCountingServer({ delayMs: 40 });
  target = await startHeldTarget();
});

afterAll(async () => {
  await target?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];

/**
 * Runs `prefix`'s manifest in a child killed with SIGKILL mid-read, then resumes it: the counts before the
 * kill, the journal then, and the resume's report.
 */
async function killMidReadThenResume(prefix: string, idempotency: 'task' | 'off') {
  const manifest = join(dir, `${prefix}.ndjson`);
  const lines = [JSON.stringify({ jobId: `mid-read-${prefix}` })];
  const queued = (i: number) =>
    JSON.stringify({ id: `${prefix}${i}`, url: `${server.url}/${prefix}${i}`, mode: 'queue' });
  for (let i = 0; i < HALF; i += 1) lines.push(queued(i));
  for (const n of [0, 1])
    lines.push(JSON.stringify({ id: `in${n}`, url: `${target.url}/${prefix}/in${n}`, mode: 'inline' }));
  for (let i = HALF; i < 2 * HALF; i += 1) lines.push(queued(i));
  await writeFile(manifest, `${lines.join('\n')}\n`);
  const state = join(dir, `state-${prefix}`);
  const limits = [
    ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', idempotency],
    ...['--tasks-per-message', '5', '--batch-size', '1', '--inline-concurrency', '1'],
  ];
  target.hold();
  const args = ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1', ...own];
  const first = startCli([...args, ...limits]);
  // The orchestrator holds its first inline task, and the workers have run some of the queue tasks sent.
  await heldReach(target, 1);
  await until(() => requestsPerId(server, prefix).size >= HALF / 3, 'a third of the first half');
  first.child.kill('SIGKILL');
  expect((await first.done).signal).toBe('SIGKILL');
  target.release();
  const journal = await readFile(join(state, JOURNAL_FILE), 'utf8');
  const before = requestsPerId(server, prefix);
  const succeeded = await completedBeforeKill(join(state, 'dynamo'));
  const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
  return { journal, before, succeeded, resumed, report: reportOf(resumed) };
}

describe('run --state DIR killed while its orchestrator reads the manifest, then --resume', () => {
  it('task mode: the same run ends succeeded, every task once; no succeeded task is requested again', async () => {
    const { journal, before, succeeded, resumed, report } = await killMidReadThenResume('t', 'task');
    // Killed mid-read: no result journaled, the second half unsent and unrequested.
    expect(journal).not.toContain('{"o":');
    expect(journal).not.toContain(`/t${2 * HALF - 1}`);
    expect([...before.keys()].every((id) => Number(id.slice(1)) < HALF)).toBe(true);
    expect(succeeded.size).toBeGreaterThan(0);
    expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
      code: 0,
      status: 'succeeded',
    });
    const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
    expect([...counts, report.unfinished ?? 0]).toEqual([2 * HALF + 2, 2 * HALF + 2, 0, 0, 0]);
    // The same run: its id is the one the killed process's first request began (functions/open-job.ts).
    const started = /\{"f":"([^"]+)"\}/.exec(journal)?.[1];
    expect(report.runId).toBe(started);
    const after = requestsPerId(server, 't');
    expect(after.size).toBe(2 * HALF);
    for (const id of succeeded) expect({ id, n: after.get(id) }).toEqual({ id, n: 1 });
    const twice = [...after].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.every((id) => before.has(id) && !succeeded.has(id))).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(4);
    // The inline tasks ran again in the copy: the held one twice, the one never reached once.
    expect([target.requests.get('/t/in0'), target.requests.get('/t/in1')]).toEqual([2, 1]);
    expect(report.resumed?.reread).toEqual({ segments: 1, inline: 2, invoked: 0 });
    expect(report.runtime).toMatchObject({ unaccounted: 0 });
  }, 120_000);

  it('off mode: every task counted once; only in-flight and inline tasks ran twice, within resumed.tasks', async () => {
    const { journal, before, resumed, report } = await killMidReadThenResume('o', 'off');
    expect(journal).not.toContain('{"o":');
    expect(journal).not.toContain(`/o${2 * HALF - 1}`);
    expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
      code: 0,
      status: 'succeeded',
    });
    const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
    expect([...counts, report.unfinished ?? 0]).toEqual([2 * HALF + 2, 2 * HALF + 2, 0, 0, 0]);
    const after = requestsPerId(server, 'o');
    expect(after.size).toBe(2 * HALF);
    // Twice: queue tasks requested before the kill, in the messages in flight then (2 of 5 tasks each, 2 at
    // once), and the held inline task; each at most twice, and no more than the report says could have.
    const twice = [...after].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.every((id) => before.has(id))).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(10);
    expect([...after.values()].every((n) => n <= 2)).toBe(true);
    expect([target.requests.get('/o/in0'), target.requests.get('/o/in1')]).toEqual([2, 1]);
    expect(twice.length + 1).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
    expect(report.resumed?.idempotency).toBe('off');
  }, 120_000);

  it('a stopped run whose continuation was kept unrun is finished by a resume, which runs that continuation', async () => {
    // Ctrl-C while the first segment waits at the second inline task: its continuation is accepted and kept
    // (holdAsync), never run. The journal keeps it as accepted ({ a }) and not ended: the resume runs it.
    const manifest = join(dir, 'cont.ndjson');
    const lines = [JSON.stringify({ jobId: 'mid-read-cont' })];
    const queued = (i: number) => JSON.stringify({ id: `c${i}`, url: `${server.url}/c${i}`, mode: 'queue' });
    const inline = (n: number) =>
      JSON.stringify({ id: `in${n}`, url: `${target.url}/c/in${n}`, mode: 'inline' });
    for (let i = 0; i < 30; i += 1) lines.push(queued(i));
    lines.push(inline(0), inline(1));
    for (let i = 30; i < 60; i += 1) lines.push(queued(i));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-cont');
    const limits = [
      ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', 'off'],
      ...['--tasks-per-message', '5', '--batch-size', '1', '--inline-concurrency', '1'],
    ];
    target.hold();
    const args = ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1', ...own];
    const first = startCli([...args, ...limits]);
    await heldReach(target, 1);
    first.child.kill('SIGINT');
    // Stopping before the held task is answered: the segment stops at the next inline task, which waited.
    await first.waitFor(/Stopping:/);
    target.release();
    expect((await first.done).signal).toBeNull();
    const stopped = await readFile(join(state, JOURNAL_FILE), 'utf8');
    expect(stopped).toContain('"status":"continued"');
    expect(stopped).toContain('{"a":');
    expect(stopped).not.toContain('/c30');
    const before = requestsPerId(server, 'c');

    const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
    const report = reportOf(resumed);
    expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
      code: 0,
      status: 'succeeded',
    });
    const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
    expect([...counts, report.unfinished ?? 0]).toEqual([62, 62, 0, 0, 0]);
    const after = requestsPerId(server, 'c');
    expect(after.size).toBe(60);
    // The stop let its running tasks finish: none ran twice, the kept continuation's inline tasks once each.
    expect([...after].filter(([, n]) => n > 1)).toEqual([]);
    expect(before.size).toBeLessThan(60);
    expect([target.requests.get('/c/in0'), target.requests.get('/c/in1')]).toEqual([1, 1]);
    expect(report.resumed?.reread).toEqual({ segments: 1, inline: 1, invoked: 0 });
  }, 120_000);

  it('a continuation killed mid-read is read again by the next resume, its sent messages not sent again', async () => {
    // Ctrl-C while the first segment waits at its second inline task stops it there; its continuation, kept,
    // starts with that task (answered at once by `quick`), sends the next part and holds the inline task
    // after it, reads on to the next and waits: killed there, with the last part unsent.
    const quick = await startHeldTarget();
    quick.release();
    const manifest = join(dir, 'kill-cont.ndjson');
    const lines = [JSON.stringify({ jobId: 'mid-read-kill-cont' })];
    const queued = (i: number) => JSON.stringify({ id: `k${i}`, url: `${server.url}/k${i}`, mode: 'queue' });
    const inline = (n: number) => {
      const url = n === 1 ? `${quick.url}/k/in1` : `${target.url}/k/in${n}`;
      return JSON.stringify({ id: `in${n}`, url, mode: 'inline' });
    };
    for (let part = 0; part < 5; part += 1) {
      for (let i = part * 30; i < (part + 1) * 30; i += 1) lines.push(queued(i));
      if (part < 4) lines.push(inline(part));
    }
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-kill-cont');
    const limits = [
      ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', 'off'],
      ...['--tasks-per-message', '5', '--batch-size', '1', '--inline-concurrency', '1'],
    ];
    target.hold();
    const args = ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1', ...own];
    const first = startCli([...args, ...limits]);
    await heldReach(target, 1);
    first.child.kill('SIGINT');
    await first.waitFor(/Stopping:/);
    target.release();
    expect((await first.done).signal).toBeNull();
    expect(await readFile(join(state, JOURNAL_FILE), 'utf8')).not.toContain('/k60');

    target.hold();
    const second = startCli(['run', '--state', state, '--resume', ...own]);
    await heldReach(target, 1);
    const thirdPart = () =>
      [...requestsPerId(server, 'k').keys()].filter((id) => Number(id.slice(1)) >= 60).length;
    await until(() => thirdPart() >= 5, 'some of the third part');
    second.child.kill('SIGKILL');
    expect((await second.done).signal).toBe('SIGKILL');
    target.release();
    // Killed mid-read: the continuation had sent the third part, not the last (it waits before it).
    const killed = await readFile(join(state, JOURNAL_FILE), 'utf8');
    expect(killed).toContain('/k89');
    expect(killed).not.toContain('/k149');
    const before = requestsPerId(server, 'k');
    const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
    await quick.close();
    const report = reportOf(resumed);
    expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
      code: 0,
      status: 'succeeded',
    });
    const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
    expect([...counts, report.unfinished ?? 0]).toEqual([154, 154, 0, 0, 0]);
    const after = requestsPerId(server, 'k');
    expect(after.size).toBe(150);
    // Twice: only tasks of the messages in flight at the kill (2 messages of 5); the copy of the continuation
    // did not send again what the killed one had sent (local/resend-guard.ts).
    const twice = [...after].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.every((id) => before.has(id))).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(10);
    expect([...after.values()].every((n) => n <= 2)).toBe(true);
    const inlines = [0, 2, 3].map((n) => target.requests.get(`/k/in${n}`));
    expect([...inlines, quick.requests.get('/k/in1')]).toEqual([1, 2, 1, 2]);
    expect(report.resumed?.reread).toEqual({ segments: 1, inline: 3, invoked: 0 });
    expect(twice.length + 2).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
  }, 180_000);
});
