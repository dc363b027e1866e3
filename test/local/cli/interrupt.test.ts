// Ctrl-C, the report's unfinished tasks and `run --retry-from`, with the CLI as a real child process on the real
// local runtime against a loopback target that counts requests per task id (test/local/fixtures/targets.ts).
// Every wait is on a count (requests the target has seen, a line the CLI printed), never on the clock.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptedReply } from '../../../bench/servers/counting-server.js';
import type { RunReport } from '../../../local/report/types.js';
import { readReport } from '../../../local/report/write.js';
import { type Target, trackTargets } from '../fixtures/targets.js';
import { runCli, startCli } from './cli-process.js';

const startTarget = trackTargets();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-interrupt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ids = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${name}-${i}`);

async function writeManifest(name: string, jobId: string, taskIds: readonly string[], target: Target) {
  const file = join(dir, `${name}.ndjson`);
  const lines = [JSON.stringify({ jobId })];
  for (const id of taskIds) lines.push(JSON.stringify({ id, url: target.url('task', id), mode: 'queue' }));
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** A target whose script can be swapped, and a promise per request count it has reached. */
async function scriptedTarget() {
  let script: (id: string, n: number) => ScriptedReply | undefined = () => undefined;
  const waiters: { count: number; resolve: () => void }[] = [];
  let requests = 0;
  const target = await startTarget((id, n) => {
    requests++;
    for (const w of waiters.filter((w) => requests >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    return script(id, n);
  }, 2);
  return {
    target,
    setScript(next: typeof script) {
      script = next;
    },
    /** Resolves once the target has seen `count` requests in all. */
    reached: (count: number) =>
      new Promise<void>((resolve) => {
        if (requests >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
}

/** Requests per task id so far. */
const requestCounts = (target: Target) => new Map([...target.answers].map(([id, a]) => [id, a.length]));

function expectAccounted(report: RunReport): void {
  expect(report.succeeded + report.deadLettered + report.invalid + (report.unfinished ?? 0)).toBe(
    report.submitted,
  );
}

/** The report lists as unfinished exactly the tasks the target never answered with a success. */
function expectUnfinishedAreTheUncompleted(report: RunReport, all: readonly string[], target: Target) {
  const completed = target.successes();
  const never = all.filter((id) => !completed.has(id));
  expect(report.unfinished).toBe(never.length);
  expect(new Set(report.unfinishedTasks?.map((t) => t.id))).toEqual(new Set(never));
  expect(report.unfinishedTasks).toHaveLength(never.length);
  for (const t of report.unfinishedTasks ?? []) {
    expect(t.task).toMatchObject({ id: t.id, url: target.url('task', t.id) });
    expect(t.error).toMatch(/^not (finished|read): /);
    // Found in the manifest file (its header is line 1).
    expect(t.line).toBe(all.indexOf(t.id) + 2);
  }
}

/** `--retry-from` runs every unfinished task exactly once and none of those that had succeeded. */
async function expectRetryRunsTheUnfinishedOnce(file: string, report: RunReport, target: Target) {
  const before = requestCounts(target);
  const retry = await runCli(['run', '--retry-from', file, '--allow-host', '127.0.0.1', '--format', 'json']);
  expect(retry.code, retry.stderr).toBe(0);
  const again = JSON.parse(retry.stdout) as RunReport;
  const unfinished = new Set(report.unfinishedTasks?.map((t) => t.id));
  expect(again).toMatchObject({
    jobId: `${report.jobId}-retry1`,
    submitted: unfinished.size,
    succeeded: unfinished.size,
    deadLettered: 0,
  });
  const after = requestCounts(target);
  for (const [id, n] of after) expect(n - (before.get(id) ?? 0), id).toBe(unfinished.has(id) ? 1 : 0);
  for (const id of unfinished) expect(after.has(id), id).toBe(true);
}

describe('Ctrl-C once', () => {
  it('lists exactly the tasks not completed, and --retry-from runs each of them once', async () => {
    const { target, reached } = await scriptedTarget();
    const all = ids('once', 300);
    const manifest = await writeManifest('once', 'once', all, target);
    const file = join(dir, 'once.json');
    const run = startCli([
      'run',
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      '--report',
      file,
      '--tasks-per-message',
      '5',
      '--batch-size',
      '2',
      '--worker-concurrency',
      '2',
      '--per-invocation-concurrency',
      '4',
    ]);
    await reached(60);
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(130);
    const report = await readReport(file);
    expect(report).toMatchObject({ jobId: 'once', submitted: 300, deadLettered: 0, interrupted: true });
    // The ledger's status, as `bounded-fanout status` would say: unfinished, never the orchestrator's `succeeded`.
    expect(report).toMatchObject({ status: 'running' });
    expect(report.cutOff).toBeUndefined();
    expectAccounted(report);
    // The running invocations finished: every task the target completed is counted succeeded, once.
    expect(report.succeeded).toBe(target.successes().size);
    expect(report.succeeded).toBeGreaterThanOrEqual(60);
    expectUnfinishedAreTheUncompleted(report, all, target);
    expect(report.unfinished).toBeGreaterThan(0);
    await expectRetryRunsTheUnfinishedOnce(file, report, target);
  }, 180_000);
});

describe('Ctrl-C twice', () => {
  it('cuts the running tasks off, counts the successes so far, and --retry-from runs the rest once', async () => {
    const { target, reached, setScript } = await scriptedTarget();
    // The first 40 requests are answered; from then on the target never answers, so the two invocations
    // running at the second Ctrl-C hold one stalled task each (one task per message, one message per batch).
    let answered = 0;
    setScript(() => (answered++ < 40 ? undefined : { stall: 'headers' }));
    const all = ids('twice', 150);
    const manifest = await writeManifest('twice', 'twice', all, target);
    const file = join(dir, 'twice.json');
    const run = startCli([
      'run',
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      '--report',
      file,
      '--tasks-per-message',
      '1',
      '--batch-size',
      '1',
      '--worker-concurrency',
      '2',
      '--per-invocation-concurrency',
      '1',
    ]);
    await reached(42);
    run.child.kill('SIGINT');
    await run.waitFor(/Stopping: no new work is taken/);
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain(
      'Cutting off: worker invocations in flight are let go of, their tasks listed as unfinished',
    );
    expect(target.successes().size).toBe(40);
    const report = await readReport(file);
    expect(report).toMatchObject({
      jobId: 'twice',
      submitted: 150,
      succeeded: 40,
      deadLettered: 0,
      invalid: 0,
      unfinished: 110,
      interrupted: true,
      cutOff: true,
    });
    expectAccounted(report);
    expectUnfinishedAreTheUncompleted(report, all, target);
    expect(result.stdout).toMatch(/succeeded\s+40\n/);
    setScript(() => undefined);
    await expectRetryRunsTheUnfinishedOnce(file, report, target);
  }, 180_000);
});

describe('--retry-from', () => {
  it('runs all of 1,500 dead-lettered tasks, read back from the tasks file, under a valid job id from a 128-character one', async () => {
    const { target } = await scriptedTarget();
    const jobId = `${'a'.repeat(120)}-b.c-d_e`;
    expect(jobId).toHaveLength(128);
    const all = ids('dl', 1500);
    const manifest = await writeManifest('many', jobId, all, target);
    const file = join(dir, 'many.json');
    // Without --allow-host every loopback task is refused and dead-lettered at once, no request sent.
    // Idempotency off keeps two 1,500-task runs quick (it is not what is tested here).
    const fast = ['--idempotency', 'off'];
    const first = await runCli([
      'run',
      '--manifest',
      manifest,
      '--report',
      file,
      '--max-receive-count',
      '1',
      ...fast,
    ]);
    expect(first.code, first.stderr).toBe(1);
    expect(target.answers.size).toBe(0);
    const written = JSON.parse(await readFile(file, 'utf8')) as RunReport;
    expect(written).toMatchObject({
      jobId,
      submitted: 1500,
      deadLettered: 1500,
      tasksFile: 'many.tasks.ndjson',
    });
    expect(written.deadLetteredTasks).toHaveLength(1000);
    for (const t of written.deadLetteredTasks) expect(t.line).toBe(all.indexOf(t.id) + 2);
    expect(existsSync(join(dir, 'many.tasks.ndjson'))).toBe(true);
    expect((await readReport(file)).deadLetteredTasks).toHaveLength(1500);

    const retry = await runCli([
      'run',
      '--retry-from',
      file,
      '--allow-host',
      '127.0.0.1',
      '--format',
      'json',
      ...fast,
    ]);
    expect(retry.code, retry.stderr).toBe(0);
    const again = JSON.parse(retry.stdout) as RunReport;
    expect(again.jobId).toBe(`${jobId.slice(0, 121)}-retry1`);
    expect(again.jobId).toHaveLength(128);
    expect(again).toMatchObject({ submitted: 1500, succeeded: 1500, deadLettered: 0, invalid: 0 });
    expect(new Set(target.answers.keys())).toEqual(new Set(all));
    expect([...target.answers.values()].every((a) => a.length === 1)).toBe(true);
  }, 300_000);
});

describe('--report', () => {
  it('an unwritable path exits 2 naming it and why, before any request reaches the target', async () => {
    const { target } = await scriptedTarget();
    const manifest = await writeManifest('unwritable', 'unwritable', ids('u', 20), target);
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a folder');
    const good = join(dir, 'fine.json');
    const bad = join(blocker, 'report.json');
    const result = await runCli([
      'run',
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      '--report',
      good,
      '--report',
      bad,
    ]);
    expect(result.stderr).toBe(
      `bounded-fanout: Report ${JSON.stringify(bad)}: cannot be written: ${JSON.stringify(blocker)} is not a folder\n`,
    );
    expect(result.code).toBe(2);
    expect(target.server.tally.requests).toBe(0);
    expect(existsSync(good)).toBe(false);
  }, 60_000);
});
