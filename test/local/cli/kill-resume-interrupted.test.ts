// `run --state DIR --resume` of a run killed (SIGKILL) mid-read, the resume itself stopped with Ctrl-C while
// its copy of the first segment waits at the held inline task: its continuation kept unrun ({ a }), its result
// journaled. A third process resumes again and runs that continuation: the killed run's id, every task counted
// once, none requested more than twice, the held inline task three times at most (killed, copy, never again).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { JOURNAL_FILE } from '../../../local/queue-journal.js';
import { reportOf, runCli, startCli } from './cli-process.js';
import { type HeldTarget, heldReach, startHeldTarget } from './held-target.js';
import { requestsPerId, until } from './wait-and-count.js';

let dir: string;
let server: CountingServer;
let target: HeldTarget;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-resume-int-'));
  server = await startCountingServer({ delayMs: 5 });
  target = await startHeldTarget();
});

afterAll(async () => {
  await target?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];

describe('run --state DIR killed mid-read, its resume stopped by Ctrl-C, resumed again', () => {
  it.each(['off', 'message'])(
    '%s: the third process finishes the run, every task once',
    async (mode) => {
      const prefix = `i${mode[0]}`;
      const manifest = join(dir, `${prefix}.ndjson`);
      const lines = [JSON.stringify({ jobId: `int-${prefix}` })];
      const queued = (i: number) =>
        JSON.stringify({ id: `${prefix}${i}`, url: `${server.url}/${prefix}${i}`, mode: 'queue' });
      for (let i = 0; i < 60; i += 1) lines.push(queued(i));
      for (const n of [0, 1])
        lines.push(JSON.stringify({ id: `in${n}`, url: `${target.url}/${prefix}/in${n}`, mode: 'inline' }));
      for (let i = 60; i < 90; i += 1) lines.push(queued(i));
      await writeFile(manifest, `${lines.join('\n')}\n`);
      const state = join(dir, `state-${prefix}`);
      const limits = [
        ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', mode],
        ...['--tasks-per-message', '5', '--batch-size', '1', '--inline-concurrency', '1'],
      ];
      const args = ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1', ...own];
      target.hold();
      const first = startCli([...args, ...limits]);
      await heldReach(target, 1);
      await until(() => requestsPerId(server, prefix).size >= 5, 'some queue tasks');
      first.child.kill('SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');
      const started = /\{"f":"([^"]+)"\}/.exec(await readFile(join(state, JOURNAL_FILE), 'utf8'))?.[1];
      target.release();
      target.hold();
      const second = startCli(['run', '--state', state, '--resume', ...own]);
      await heldReach(target, 1);
      second.child.kill('SIGINT');
      await second.waitFor(/Stopping:/);
      target.release();
      expect((await second.done).signal).toBeNull();
      expect(await readFile(join(state, JOURNAL_FILE), 'utf8')).toContain('{"a":');
      const before = requestsPerId(server, prefix);
      const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
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
      expect([...after.values()].every((n) => n <= 2)).toBe(true);
      const again = [...after].filter(([id, n]) => n > (before.get(id) ?? 0) && before.has(id));
      expect(again.length).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
      expect(target.requests.get(`/${prefix}/in0`)).toBeLessThanOrEqual(3);
      expect(target.requests.get(`/${prefix}/in1`)).toBe(1);
    },
    120_000,
  );
});
