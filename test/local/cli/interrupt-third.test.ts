// The third Ctrl-C: `run` as a real child process on the real local runtime. The second Ctrl-C waits for a
// running orchestrator invocation (its counts come with its return); when that invocation cannot end (its
// inline tasks wait on a target that never answers), the third ends the process at once, with no report.
// Every wait is on a line the CLI printed or a request the target saw, never on the clock.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackTargets } from '../fixtures/targets.js';
import { startCli } from './cli-process.js';

const startTarget = trackTargets();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-interrupt-third-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Ctrl-C three times', () => {
  it('the second waits for the stalled orchestrator, the third exits at once with 130 and no report', async () => {
    let reached: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      reached = resolve;
    });
    // Every request stalls: the orchestrator's inline tasks never end.
    const target = await startTarget(() => {
      reached();
      return { stall: 'headers' };
    }, 0);
    const manifest = join(dir, 'stalled.ndjson');
    const lines = [JSON.stringify({ jobId: 'stalled' })];
    for (let i = 0; i < 20; i++) {
      lines.push(JSON.stringify({ id: `s${i}`, url: target.url('task', `s${i}`), mode: 'inline' }));
    }
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const report = join(dir, 'stalled.json');
    const run = startCli(['run', '--manifest', manifest, '--allow-host', '127.0.0.1', '--report', report]);
    await first;
    run.child.kill('SIGINT');
    await run.waitFor(/Stopping: no new work is taken/);
    run.child.kill('SIGINT');
    await run.waitFor(/Cutting off: worker invocations in flight are let go of/);
    // Cut off, the run still waits for its orchestrator invocation: nothing has ended it yet.
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stdout).toMatch(/Aborted after \d+\.\d s: the process ended at once\./);
    expect(result.stdout).toMatch(/succeeded so far\s+0\n/);
    expect(existsSync(report)).toBe(false);
    expect(target.successes().size).toBe(0);
  }, 120_000);
});
