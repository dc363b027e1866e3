// The state directory's lock (local/cli/state-dir.ts claim) when two resumes start together on a directory
// whose run was killed (its lock names a process that is gone): real processes, started together by a go file
// they spin on, claim the same directory; exactly one takes it, the other is refused naming the first, in
// every trial. Before, both could (each removed the dead lock, one of them the other's new one), and both
// then opened the same store.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { STATE_LOCK, STATE_MARKER } from '../../../local/cli/state-dir.js';
import { repoRoot } from './cli-process.js';

const TRIALS = 12;
const child = fileURLToPath(new URL('./claim-child.ts', import.meta.url));
let dir: string;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The id of a process that has ended, as a killed run's lock names it. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => p.on('close', resolve));
  return p.pid as number;
}

interface Claim {
  readonly i: number;
  readonly claimed: boolean;
  readonly error?: string;
}

function claimer(go: string, dirs: readonly string[]) {
  const p = spawn(process.execPath, ['--import', 'tsx', child, go, ...dirs], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Claim[] = [];
  createInterface({ input: p.stdout }).on('line', (line) => lines.push(JSON.parse(line) as Claim));
  const done = new Promise((resolve) => p.on('close', resolve));
  return { p, lines, done };
}

describe('two resumes claiming one state directory at once', () => {
  it('leaves exactly one holding it, the other refused naming it, in every trial', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bf-state-lock-'));
    const dead = await deadPid();
    const dirs: string[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const state = join(dir, `s${i}`);
      dirs.push(state);
      const marker = { format: 'bounded-fanout-state/1', manifest: 'm', startedAt: '' };
      await mkdir(state);
      await writeFile(join(state, STATE_MARKER), JSON.stringify(marker));
      await writeFile(join(state, STATE_LOCK), String(dead));
    }
    const go = join(dir, 'go');
    const [a, b] = [claimer(go, dirs), claimer(go, dirs)];
    try {
      for (let i = 0; i < TRIALS; i++) {
        await writeFile(`${go}.${i}`, '');
        for (let w = 0; w < 600 && (a.lines.length <= i || b.lines.length <= i); w++)
          await new Promise((r) => setTimeout(r, 50));
        const taken = [a, b].filter((c) => c.lines[i]?.claimed);
        expect({ trial: i, holders: taken.length }).toEqual({ trial: i, holders: 1 });
        const [winner] = taken;
        const loser = winner === a ? b : a;
        expect(loser.lines[i].error).toBe(
          `--state ${dirs[i]}: the run kept there is still running (process ${winner.p.pid}): let it end or stop it first (a lock left by a process that is gone is taken over; ${STATE_LOCK} names it)`,
        );
      }
    } finally {
      // A child spinning for a trial not reached (a failed one) would not read its stdin: killed instead.
      for (const c of [a, b]) c.p.kill('SIGKILL');
      await Promise.all([a.done, b.done]);
    }
  }, 120_000);
});
