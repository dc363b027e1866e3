// `run --state DIR --resume` after kills at the edges of the orchestrator's first segment, at lines of the
// journal (kill-at-journal.mjs): right after its start ({ f }) before any send, the resume itself killed there
// again (a second resume), and right after a stopped segment's continuation was accepted ({ a }) before the
// segment ended (its continuation accepted, the segment never ended: two segments to run again). Every task is
// counted once, the run is the killed one's, and no queue task runs more often than the report says it could.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { JOURNAL_FILE } from '../../../local/queue-journal.js';
import { reportOf, runCli, startCli } from './cli-process.js';
import { type HeldTarget, heldReach, startHeldTarget } from './held-target.js';
import { requestsPerId, until } from './wait-and-count.js';

const killAtJournal = new URL('./kill-at-journal.mjs', import.meta.url).href;
const killAt = (at: string) => ({
  NODE_OPTIONS: `--import=${killAtJournal}`,
  BF_KILL_AT: JSON.stringify({ at }),
});

let dir: string;
let server: CountingServer;
let target: HeldTarget;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-mid-read-edges-'));
  server = await startCountingServer({ delayMs: 5 });
  target = await startHeldTarget();
});

afterAll(async () => {
  await target?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];

async function manifestOf(prefix: string, idempotency: string) {
  const manifest = join(dir, `${prefix}.ndjson`);
  const lines = [JSON.stringify({ jobId: `edges-${prefix}` })];
  const queued = (i: number) =>
    JSON.stringify({ id: `${prefix}${i}`, url: `${server.url}/${prefix}${i}`, mode: 'queue' });
  for (let i = 0; i < 30; i += 1) lines.push(queued(i));
  for (const n of [0, 1])
    lines.push(JSON.stringify({ id: `in${n}`, url: `${target.url}/${prefix}/in${n}`, mode: 'inline' }));
  for (let i = 30; i < 60; i += 1) lines.push(queued(i));
  await writeFile(manifest, `${lines.join('\n')}\n`);
  const limits = [
    ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', idempotency],
    ...['--tasks-per-message', '5', '--batch-size', '1', '--inline-concurrency', '1'],
  ];
  const state = join(dir, `state-${prefix}`);
  return {
    state,
    args: ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1', ...own, ...limits],
  };
}

function expectAllOnce(report: ReturnType<typeof reportOf>, prefix: string) {
  const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
  expect([...counts, report.unfinished ?? 0]).toEqual([62, 62, 0, 0, 0]);
  expect(requestsPerId(server, prefix).size).toBe(60);
}

describe('run --state DIR --resume, killed at the edges of the first segment', () => {
  it.each(['off', 'message'])(
    '%s: killed after its start, then the resume killed there too',
    async (mode) => {
      const prefix = `f${mode[0]}`;
      const { state, args } = await manifestOf(prefix, mode);
      target.release();
      const first = startCli(args, killAt('started'));
      expect((await first.done).signal).toBe('SIGKILL');
      const journal = await readFile(join(state, JOURNAL_FILE), 'utf8');
      const started = /\{"f":"([^"]+)"\}/.exec(journal)?.[1];
      expect(started).toBeDefined();
      const second = startCli(['run', '--state', state, '--resume', ...own], killAt('started'));
      expect((await second.done).signal).toBe('SIGKILL');
      expect(requestsPerId(server, prefix).size).toBe(0);
      const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
      const report = reportOf(resumed);
      expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
        code: 0,
        status: 'succeeded',
      });
      expectAllOnce(report, prefix);
      expect(report.runId).toBe(started);
      expect([...requestsPerId(server, prefix).values()].every((n) => n === 1)).toBe(true);
      expect([target.requests.get(`/${prefix}/in0`), target.requests.get(`/${prefix}/in1`)]).toEqual([1, 1]);
    },
    120_000,
  );

  it.each(['off', 'message'])(
    '%s: stopped, killed as its continuation is accepted before the segment ends',
    async (mode) => {
      const prefix = `a${mode[0]}`;
      const { state, args } = await manifestOf(prefix, mode);
      target.hold();
      const first = startCli(args, killAt('accepted'));
      await heldReach(target, 1);
      first.child.kill('SIGINT');
      await first.waitFor(/Stopping:/);
      target.release();
      expect((await first.done).signal).toBe('SIGKILL');
      const journal = await readFile(join(state, JOURNAL_FILE), 'utf8');
      expect(journal).toContain('{"a":');
      expect(journal).not.toContain('{"o":');
      const started = /\{"f":"([^"]+)"\}/.exec(journal)?.[1];
      const before = requestsPerId(server, prefix);
      const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
      const report = reportOf(resumed);
      expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
        code: 0,
        status: 'succeeded',
      });
      expectAllOnce(report, prefix);
      expect(report.runId).toBe(started);
      const after = requestsPerId(server, prefix);
      const twice = [...after].filter(([, n]) => n > 1).map(([id]) => id);
      expect(twice.every((id) => before.has(id))).toBe(true);
      expect([...after.values()].every((n) => n <= 2)).toBe(true);
      expect(twice.length).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
    },
    120_000,
  );

  it.each(['off', 'message'])(
    '%s: killed mid-read, then the resume killed mid-read further on',
    async (mode) => {
      const prefix = `m${mode[0]}`;
      const t1 = await startHeldTarget();
      const manifest = join(dir, `${prefix}.ndjson`);
      const lines = [JSON.stringify({ jobId: `edges-${prefix}` })];
      const queued = (i: number) =>
        JSON.stringify({ id: `${prefix}${i}`, url: `${server.url}/${prefix}${i}`, mode: 'queue' });
      for (let i = 0; i < 90; i += 1) {
        lines.push(queued(i));
        if (i === 31)
          lines.push(JSON.stringify({ id: 'in0', url: `${target.url}/${prefix}/in0`, mode: 'inline' }));
        if (i === 62)
          lines.push(JSON.stringify({ id: 'in1', url: `${t1.url}/${prefix}/in1`, mode: 'inline' }));
      }
      await writeFile(manifest, `${lines.join('\n')}\n`);
      const state = join(dir, `state-${prefix}`);
      const limits = [
        ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', mode],
        ...['--tasks-per-message', '5', '--batch-size', '1', '--inline-concurrency', '1'],
      ];
      const args = [
        'run',
        '--state',
        state,
        '--manifest',
        manifest,
        '--allow-host',
        '127.0.0.1',
        ...own,
        ...limits,
      ];
      target.hold();
      t1.release();
      const first = startCli(args);
      await heldReach(target, 1);
      await until(() => requestsPerId(server, prefix).size >= 10, 'some of the first part');
      first.child.kill('SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');
      const started = /\{"f":"([^"]+)"\}/.exec(await readFile(join(state, JOURNAL_FILE), 'utf8'))?.[1];
      target.release();
      t1.hold();
      const second = startCli(['run', '--state', state, '--resume', ...own]);
      await heldReach(t1, 1);
      const part = () =>
        [...requestsPerId(server, prefix).keys()].filter((id) => Number(id.slice(2)) >= 32).length;
      await until(() => part() >= 10, 'some of the second part');
      second.child.kill('SIGKILL');
      expect((await second.done).signal).toBe('SIGKILL');
      t1.release();
      const before = requestsPerId(server, prefix);
      const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
      await t1.close();
      const report = reportOf(resumed);
      expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
        code: 0,
        status: 'succeeded',
      });
      const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
      expect([...counts, report.unfinished ?? 0]).toEqual([92, 92, 0, 0, 0]);
      expect(report.runId).toBe(started);
      const after = requestsPerId(server, prefix);
      expect(after.size).toBe(90);
      const more = [...after]
        .filter(([id, n]) => n > (before.get(id) ?? 0) && before.has(id))
        .map(([id]) => id);
      expect({ more, n: [...after.values()].filter((n) => n > 2) }).toMatchObject({ n: [] });
      expect(more.length).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
      expect([target.requests.get(`/${prefix}/in0`), t1.requests.get(`/${prefix}/in1`)]).toEqual([3, 2]);
    },
    180_000,
  );

  it('off: the invoke tasks the killed segment ran, run again by its copy, are counted in resumed.tasks', async () => {
    // Ten invoke tasks run by the orchestrator itself, then two inline tasks, the first held: killed there, nothing sent to
    // the queue yet. The copy invokes the ten again (off: no task record), as it runs the inline task again.
    const prefix = 'v';
    const manifest = join(dir, `${prefix}.ndjson`);
    const lines = [JSON.stringify({ jobId: `edges-${prefix}`, limits: { tasksPerInvoke: 5 } })];
    const task = (i: number, mode: string) =>
      JSON.stringify({ id: `${prefix}${i}`, url: `${server.url}/${prefix}${i}`, mode });
    for (let i = 0; i < 10; i += 1) lines.push(task(i, 'invoke'));
    for (const n of [0, 1])
      lines.push(JSON.stringify({ id: `in${n}`, url: `${target.url}/${prefix}/in${n}`, mode: 'inline' }));
    for (let i = 10; i < 30; i += 1) lines.push(task(i, 'queue'));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, `state-${prefix}`);
    const limits = [
      ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', 'off'],
      ...['--tasks-per-message', '5', '--batch-size', '1', '--inline-concurrency', '1'],
    ];
    const args = [
      'run',
      '--state',
      state,
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      ...own,
      ...limits,
    ];
    target.hold();
    const first = startCli(args);
    await heldReach(target, 1);
    await until(() => requestsPerId(server, prefix).size === 10, 'the invoke tasks');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    target.release();
    expect(await readFile(join(state, JOURNAL_FILE), 'utf8')).not.toContain('{"s":');
    const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
    const report = reportOf(resumed);
    expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
      code: 0,
      status: 'succeeded',
    });
    const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
    expect([...counts, report.unfinished ?? 0]).toEqual([32, 32, 0, 0, 0]);
    const twice = [...requestsPerId(server, prefix)].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.length).toBe(10);
    expect([target.requests.get(`/${prefix}/in0`), target.requests.get(`/${prefix}/in1`)]).toEqual([2, 1]);
    // The copy ran the ten invoke tasks and both inline tasks again, which the report counts (none was queued).
    expect(report.resumed).toMatchObject({ tasks: 12, reread: { segments: 1, inline: 2, invoked: 10 } });
  }, 120_000);
});
