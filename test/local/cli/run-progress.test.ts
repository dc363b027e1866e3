// The live progress of a real `bounded-fanout run` (plain lines on stderr, as in a log) shows the limits that
// apply: the job header's own (which can only lower the config's), then the run's overrides set with `limits`
// from a second process while it runs. A held target keeps the run running for as long as the test needs.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../../local/report/types.js';
import { type CliRun, runCli, startCli } from './cli-process.js';
import { type HeldTarget, heldReach, startHeldTarget } from './held-target.js';
import { writeManifest } from './run-fixture.js';

const TASKS = 4;
let dir: string;
let target: HeldTarget;
const runs: CliRun[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-progress-limits-'));
  target = await startHeldTarget();
});

afterAll(async () => {
  for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Shown {
  readonly inline: number;
  readonly workers: number;
  readonly sockets: number;
}

/** The limits each plain progress line shows: `... | in flight: inline 0/3, workers 1/10, sockets 2/42`. */
function limitsShown(stderr: string): Shown[] {
  const shown: Shown[] = [];
  for (const m of stderr.matchAll(/in flight: inline \d+\/(\d+), workers \d+\/(\d+), sockets \d+\/(\d+)/g)) {
    shown.push({ inline: Number(m[1]), workers: Number(m[2]), sockets: Number(m[3]) });
  }
  return shown;
}

/** Waits (bounded: 60 s) until the run has printed `n` progress lines. */
async function linesReach(run: CliRun, n: number): Promise<void> {
  for (let i = 0; i < 600 && limitsShown(run.output().stderr).length < n; i++) await sleep(100);
  expect(limitsShown(run.output().stderr).length).toBeGreaterThanOrEqual(n);
}

async function startRun(header: Record<string, unknown>): Promise<{ run: CliRun; report: string }> {
  const manifest = join(dir, `${String(header.jobId)}.ndjson`);
  const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `t${i}`, url: `${target.url}/t${i}` }));
  await writeManifest(manifest, [header, ...tasks]);
  const report = join(dir, `${String(header.jobId)}.json`);
  const run = startCli([
    'run',
    '--manifest',
    manifest,
    '--allow-host',
    '127.0.0.1',
    '--listen',
    '127.0.0.1:0',
    '--report',
    report,
  ]);
  runs.push(run);
  return { run, report };
}

describe('the progress display of run', () => {
  it("shows the job header's limits, the ones the report says applied", async () => {
    target.release();
    const { run, report } = await startRun({
      jobId: 'header',
      runId: 'r1',
      limits: { inline: 3, invoke: 1 },
    });
    const ran = await run.done;
    expect(ran.code).toBe(0);
    // Nobody read through its endpoint: its own reads (the record for the report) go behind it, so no wait.
    expect(ran.stderr).not.toMatch(/stays open/);
    const applied = (JSON.parse(await readFile(report, 'utf8')) as RunReport).limits;
    expect(applied.inline).toBe(3);
    const shown = limitsShown(ran.stderr);
    expect(shown.length).toBeGreaterThan(0);
    // Every line, from the first: the header is read before the run starts.
    for (const line of shown) {
      expect(line).toEqual({ inline: applied.inline, workers: applied.workers, sockets: applied.sockets });
    }
  }, 120_000);

  it('follows the overrides `limits` sets on the running run', async () => {
    target.hold();
    const { run } = await startRun({ jobId: 'steered', runId: 'r1' });
    await run.waitFor(/\[bounded-fanout\] endpoint: http:\/\/127\.0\.0\.1:\d+/);
    const endpoint = /\[bounded-fanout\] endpoint: (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output().stderr)![1];
    await heldReach(target, TASKS);
    await run.waitFor(/in flight: /);
    const before = limitsShown(run.output().stderr).at(-1)!;
    expect(before.inline).toBeGreaterThan(2);
    const set = await runCli([
      'limits',
      '--job',
      'steered',
      '--endpoint',
      endpoint,
      'inlineConcurrency=2',
      'perInvocationConcurrency=1',
    ]);
    expect(set.code).toBe(0);
    const linesThen = limitsShown(run.output().stderr).length;
    // A line every 3 s; the run's record is read again every 2 s: by the second line after, it shows.
    await linesReach(run, linesThen + 2);
    target.release();
    const ran = await run.done;
    expect(ran.code).toBe(0);
    // The display's own reads of the record, every 2 s up to the end, are not an outside watcher's: the run
    // does not keep its endpoint open for them (`limits` read through the endpoint, but exited long before).
    expect(ran.stderr).not.toMatch(/stays open/);
    const after = limitsShown(ran.stderr).slice(linesThen + 1);
    expect(after.length).toBeGreaterThan(0);
    for (const line of after) {
      expect(line.inline).toBe(2);
      expect(line.workers).toBe(before.workers);
      expect(line.sockets).toBeLessThan(before.sockets);
    }
  }, 120_000);
});
