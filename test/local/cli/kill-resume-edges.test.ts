// `run --state DIR --resume` after a kill -9 at the moments test/local/cli/kill-resume.test.ts does not reach:
// real child CLIs, SIGKILL, and a loopback target that holds every request until the test lets them go, so the
// kill lands while the run's messages are queued (no sleeps: the target's own count and the journal say when).
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCountingServer } from '../../../bench/servers/counting-server.js';
import { JOURNAL_FILE } from '../../../local/queue-journal.js';
import type { RunReport } from '../../../local/report/types.js';
import { reportOf, runCli, startCli } from './cli-process.js';
import { type HeldTarget, heldReach, startHeldTarget } from './held-target.js';
import { completedBeforeKill } from './state-records.js';

let dir: string;
let target: HeldTarget;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-edges-'));
  target = await startHeldTarget();
});

afterAll(async () => {
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Waits (bounded: 30 s) until the state directory's journal holds the orchestrator's result. */
async function journaledFirst(state: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const text = await readFile(join(state, JOURNAL_FILE), 'utf8').catch(() => '');
    if (text.includes('{"o":')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no orchestrator result in ${state}/${JOURNAL_FILE}`);
}

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];
/** Two workers, each running one message of one task at a time: the target's held count says where the run is. */
const ONE_TASK_TWO_WORKERS = [
  '--worker-concurrency',
  '2',
  '--per-invocation-concurrency',
  '1',
  '--tasks-per-message',
  '1',
];

/** A report's counts: submitted, succeeded, dead-lettered, invalid, unfinished. */
const countsOf = (r: RunReport) => [r.submitted, r.succeeded, r.deadLettered, r.invalid, r.unfinished ?? 0];

/** `run --state` with the target holding every request, once its orchestrator's result is journaled. */
async function startHeld(state: string, manifest: string, limits: readonly string[]) {
  target.hold();
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
  await journaledFirst(state);
  return first;
}

/**
 * `run --state` killed with `held` requests held at the target, after a first round of as many was let go: the
 * kill lands with that round's tasks done and the next round's in flight.
 */
async function killedOnSecondHold(state: string, manifest: string, limits: readonly string[], held: number) {
  const first = await startHeld(state, manifest, limits);
  await heldReach(target, held);
  target.release();
  target.hold();
  await heldReach(target, held);
  first.child.kill('SIGKILL');
  expect((await first.done).signal).toBe('SIGKILL');
  target.release();
}

describe('bounded-fanout run --state DIR --resume, after a kill -9', () => {
  it('puts back queued messages larger in all than one SendMessageBatch takes', async () => {
    const TASKS = 24;
    // 10 such messages are 1.2 MB: above what one SendMessageBatch takes (256 KiB on SQS, 1 MiB on fauxqs)
    const body = 'x'.repeat(120_000);
    const manifest = join(dir, 'large.ndjson');
    const lines = [JSON.stringify({ jobId: 'kill-large' })];
    for (let i = 0; i < TASKS; i++) {
      lines.push(
        JSON.stringify({ id: `l${i}`, url: `${target.url}/l${i}`, method: 'POST', body, mode: 'queue' }),
      );
    }
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-large');
    const limits = ['--worker-concurrency', '2', '--per-invocation-concurrency', '1'];
    const packing = ['--tasks-per-message', '1', '--batch-size', '1', '--allow-host', '127.0.0.1'];
    target.hold();
    const first = startCli(['run', '--state', state, '--manifest', manifest, ...own, ...limits, ...packing]);
    await journaledFirst(state);
    await heldReach(target, 1);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    target.release();

    const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
    expect(countsOf(report)).toEqual([TASKS, TASKS, 0, 0, 0]);
    expect(report.resumed).toMatchObject({ messages: TASKS, tasks: TASKS });
  }, 120_000);

  it('keeps a resume’s journal lines whole after a torn last line, through a second kill and resume', async () => {
    const TASKS = 12;
    const manifest = join(dir, 'torn.ndjson');
    const lines = [JSON.stringify({ jobId: 'kill-torn' })];
    for (let i = 0; i < TASKS; i++)
      lines.push(JSON.stringify({ id: `n${i}`, url: `${target.url}/n${i}`, mode: 'queue' }));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-torn');
    const first = await startHeld(state, manifest, ONE_TASK_TWO_WORKERS);
    await heldReach(target, 1);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    // Killed inside a write: the journal ends in a line's first bytes, with no newline.
    await appendFile(join(state, JOURNAL_FILE), '{"d":["');
    target.release();
    target.hold();
    // The first resume puts every message back (its journal lines come after the torn one), then is killed.
    const again = startCli(['run', '--state', state, '--resume', ...own]);
    await heldReach(target, 1);
    again.child.kill('SIGKILL');
    expect((await again.done).signal).toBe('SIGKILL');
    target.release();

    const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
    expect(countsOf(report)).toEqual([TASKS, TASKS, 0, 0, 0]);
    expect(report.resumed).toMatchObject({ messages: TASKS, tasks: TASKS });
  }, 120_000);

  it.each([
    ['once (stop)', 1],
    ['twice (cut off)', 2],
  ])(
    'finishes a run stopped by Ctrl-C %s, each task once, none that succeeded sent again',
    async (_, times) => {
      const TASKS = 12;
      const name = `ctrl-c-${times}`;
      const manifest = join(dir, `${name}.ndjson`);
      const lines = [JSON.stringify({ jobId: name })];
      for (let i = 0; i < TASKS; i++)
        lines.push(JSON.stringify({ id: `${name}-${i}`, url: `${target.url}/${name}/${i}`, mode: 'queue' }));
      await writeFile(manifest, `${lines.join('\n')}\n`);
      const state = join(dir, `state-${name}`);
      const first = await startHeld(state, manifest, ONE_TASK_TWO_WORKERS);
      await heldReach(target, 2);
      first.child.kill('SIGINT');
      await first.waitFor(/Stopping/);
      if (times === 2) {
        first.child.kill('SIGINT');
        await first.waitFor(/Cutting off/);
      }
      target.release();
      const stopped = reportOf(await first.done);
      expect(stopped.interrupted).toBe(true);
      const before = new Map(target.requests);

      const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
      expect(countsOf(report)).toEqual([TASKS, TASKS, 0, 0, 0]);
      const mine = [...target.requests].filter(([path]) => path.startsWith(`/${name}/`));
      expect(mine).toHaveLength(TASKS);
      // Stopped, the first process finished its 2 tasks in flight (their answers came): none is sent again.
      // Cut off, it let go of them: they may run twice, and the report says they could have.
      const twice = mine.filter(([, n]) => n > 1).map(([path]) => path);
      expect(twice.every((path) => before.has(path))).toBe(true);
      expect(twice.length).toBeLessThanOrEqual(times === 1 ? 0 : 2);
      expect(report.resumed?.tasks).toBeGreaterThanOrEqual(twice.length);
    },
    120_000,
  );

  it('sends no task that had succeeded again when resumed a day after the kill (task mode)', async () => {
    const TASKS = 4;
    const manifest = join(dir, 'later.ndjson');
    const lines = [JSON.stringify({ jobId: 'kill-later' })];
    for (let i = 0; i < TASKS; i++)
      lines.push(JSON.stringify({ id: `d${i}`, url: `${target.url}/later/${i}`, mode: 'queue' }));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-later');
    // One message of 4 tasks run one at a time: the kill lands with its first task done, the second held.
    const limits = ['--per-invocation-concurrency', '1', '--tasks-per-message', '4'];
    await killedOnSecondHold(state, manifest, limits, 1);
    const succeeded = await completedBeforeKill(join(state, 'dynamo'));
    expect([...succeeded]).toEqual(['d0']);
    const laterPaths = () => [...target.requests].filter(([path]) => path.startsWith('/later/'));
    expect(new Map(laterPaths())).toEqual(
      new Map([
        ['/later/0', 1],
        ['/later/1', 1],
      ]),
    );

    // A mock of the clock, the one way to be a day later here: the resume's Date.now runs 25 hours ahead.
    const later = `data:text/javascript,${encodeURIComponent(`const now = Date.now; Date.now = () => now() + ${25 * 3600_000};`)}`;
    const resumed = await runCli(['run', '--state', state, '--resume', ...own], {
      NODE_OPTIONS: `--import=${later}`,
    });
    const report = reportOf(resumed);
    expect(countsOf(report)).toEqual([TASKS, TASKS, 0, 0, 0]);
    // Requested once each but d1, held at the kill: d0's record says it completed.
    const requested = [...target.requests].filter(([path]) => path.startsWith('/later/'));
    expect(new Map(requested)).toEqual(
      new Map([
        ['/later/0', 1],
        ['/later/1', 2],
        ['/later/2', 1],
        ['/later/3', 1],
      ]),
    );
  }, 120_000);

  it('resumes a run killed inside its orchestrator, once its manifest is back as it was', async () => {
    const manifest = join(dir, 'inline.ndjson');
    const lines = [JSON.stringify({ jobId: 'kill-inline' })];
    lines.push(JSON.stringify({ id: 'in0', url: `${target.url}/inline/0`, mode: 'inline' }));
    lines.push(JSON.stringify({ id: 'q0', url: `${target.url}/inline/q0`, mode: 'queue' }));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-inline');
    target.hold();
    const first = startCli([
      'run',
      '--state',
      state,
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      ...own,
    ]);
    // The orchestrator runs the inline task itself: held, it has not returned.
    await heldReach(target, 1);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    target.release();
    await writeFile(manifest, `${lines.slice(0, 2).join('\n')}\n`);
    const changed = await runCli(['run', '--state', state, '--resume', ...own]);
    expect({ code: changed.code, stdout: changed.stdout }).toEqual({ code: 2, stdout: '' });
    expect(changed.stderr).toMatch(
      /--resume: the manifest \S+inline\.ndjson changed since the run in --state \S+ started \(SHA-256 [0-9a-f]{64}, now [0-9a-f]{64}\)/,
    );
    // Back as it was: the refusal left the directory unclaimed, and the resume runs the killed first segment
    // again (local/segment-reread.ts): its inline task a second time, the run's tasks each counted once.
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
    const report = reportOf(resumed);
    expect({ code: resumed.code, status: report.status, counts: countsOf(report) }).toEqual({
      code: 0,
      status: 'succeeded',
      counts: [2, 2, 0, 0, 0],
    });
    expect(target.requests.get('/inline/0')).toBe(2);
    expect(report.resumed?.reread).toEqual({ segments: 1, inline: 1, invoked: 0 });
  }, 120_000);

  it('in message mode runs again only the tasks of the messages in flight at the kill, as the report says', async () => {
    const TASKS = 8;
    const manifest = join(dir, 'message.ndjson');
    const lines = [JSON.stringify({ jobId: 'kill-message' })];
    for (let i = 0; i < TASKS; i++)
      lines.push(JSON.stringify({ id: `m${i}`, url: `${target.url}/message/${i}`, mode: 'queue' }));
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const state = join(dir, 'state-message');
    // Messages of 2 tasks run one at a time, 2 messages at once: killed with each one's first task done.
    const limits = [
      ...['--worker-concurrency', '2', '--per-invocation-concurrency', '1', '--idempotency', 'message'],
      ...['--tasks-per-message', '2', '--batch-size', '1'],
    ];
    await killedOnSecondHold(state, manifest, limits, 2);
    const mine = () => [...target.requests].filter(([path]) => path.startsWith('/message/'));
    const before = new Map(mine());
    expect([before.size, [...before.values()].every((n) => n === 1)]).toEqual([4, true]);

    const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
    expect(countsOf(report)).toEqual([TASKS, TASKS, 0, 0, 0]);
    const after = new Map(mine());
    expect(after.size).toBe(TASKS);
    // Twice: the 4 tasks of the 2 messages in flight (their first tasks had succeeded, their seconds were
    // held), none other; no task three times; the report's put-back count covers them.
    const twice = [...after].filter(([, n]) => n > 1).map(([path]) => path);
    expect(twice.every((path) => before.has(path))).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(4);
    expect([...after.values()].every((n) => n <= 2)).toBe(true);
    expect(report.resumed).toMatchObject({ idempotency: 'message' });
    expect(report.resumed?.tasks).toBeGreaterThanOrEqual(twice.length);
  }, 120_000);

  it('keeps a retry’s Retry-After through the kill: the task is not sent again before its target said', async () => {
    const answered: number[] = [];
    const server = await startCountingServer({
      script: (request) => {
        if (request.path !== '/after/r0') return undefined;
        answered.push(Date.now());
        return answered.length === 1 ? { status: 429, headers: { 'retry-after': '40' } } : undefined;
      },
    });
    try {
      const manifest = join(dir, 'after.ndjson');
      const lines = [JSON.stringify({ jobId: 'kill-after' })];
      lines.push(JSON.stringify({ id: 'r0', url: `${server.url}/after/r0`, mode: 'queue' }));
      await writeFile(manifest, `${lines.join('\n')}\n`);
      const state = join(dir, 'state-after');
      const first = startCli([
        'run',
        '--state',
        state,
        '--manifest',
        manifest,
        '--allow-host',
        '127.0.0.1',
        ...own,
      ]);
      // Killed once the retry, delayed 40 s (above the 30 s a task waits in its invocation), is journaled (its
      // first message settled after it).
      for (let i = 0; i < 600; i++) {
        const text = await readFile(join(state, JOURNAL_FILE), 'utf8').catch(() => '');
        if (text.includes('{"d":[') && text.split('{"s":').length === 3) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      first.child.kill('SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');
      expect(answered).toHaveLength(1);

      const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
      expect([report.submitted, report.succeeded, report.deadLettered]).toEqual([1, 1, 0]);
      expect(answered).toHaveLength(2);
      // A lower bound only (a slow machine makes it later, never sooner): the second request came no sooner
      // than the 40 s the 429 asked for, less the second SQS's whole-second delay may round away.
      expect(answered[1] - answered[0]).toBeGreaterThanOrEqual(39_000);
    } finally {
      await server.close();
    }
  }, 120_000);
});
