// `run --state DIR --resume` after a kill -9 inside a job ledger settle. The DynamoDB front applies a transaction
// as single-item calls to dynalite, each its own LevelDB write (local/dynamo-transact.ts), and a kill between two
// of them left the settle half applied on disk. Found by kill-resume.test.ts failing once in CI (exit 1): with
// the message's marker written and the run's counts not, the resume found the message settled and closed it, its
// tasks never counted (120 submitted, 115 succeeded, the run `running`); with the counts written and the marker
// not, the message ran again and its tasks were counted twice (125 succeeded). Now the front keeps an undo log of
// its transactions on a store on disk (local/dynamo-undo-log.ts), and the resume's store undoes the half-applied
// one first: the message was not settled, goes back, and its tasks are counted once. A real child CLI kills
// itself between the two halves (kill-in-transact.mjs), once the orchestrator's result is journaled (a resume
// needs it), and a loopback target holds every task until then.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, reportOf, runCli, startCli } from './cli-process.js';
import { type HeldTarget, heldReach, startHeldTarget } from './held-target.js';

const killInTransact = new URL('./kill-in-transact.mjs', import.meta.url).href;
const TASKS = 6;

let dir: string;
let target: HeldTarget;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-transact-'));
  target = await startHeldTarget();
});

afterAll(async () => {
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];

/** Waits (bounded: 30 s) until the journal in `state` holds the orchestrator's result. */
async function orchestratorJournaled(state: string, run: CliRun): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (run.child.exitCode !== null || run.child.signalCode !== null)
      throw new Error(`the run ended first: ${run.output().stderr}`);
    const journal = await readFile(join(state, 'queue.ndjson'), 'utf8').catch(() => '');
    if (journal.includes('{"o":')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the orchestrator’s result was never journaled');
}

/** Requests per task of job `name`. */
function requestsOf(name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [path, n] of target.requests) if (path.startsWith(`/${name}/`)) counts.set(path, n);
  return counts;
}

describe('bounded-fanout run --state DIR --resume, killed inside a settle transaction', () => {
  it.each([
    ['off', 'marker'],
    ['off', 'counts'],
    ['task', 'marker'],
    ['task', 'counts'],
  ])(
    'idempotency %s, only the %s written: every task counted once',
    async (mode, applied) => {
      const name = `tx-${mode}-${applied}`;
      const manifest = join(dir, `${name}.ndjson`);
      const lines = [{ jobId: name }];
      for (let i = 0; i < TASKS; i++)
        lines.push({ id: `${name}-${i}`, url: `${target.url}/${name}/${i}`, mode: 'queue' } as never);
      await writeFile(manifest, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const state = join(dir, `state-${name}`);
      // Three messages of two tasks: the first settle of a message (one, or two grouped) is the one cut in two.
      const limits = ['--idempotency', mode, '--tasks-per-message', '2', '--batch-size', '1'];
      const concurrency = ['--worker-concurrency', '2', '--per-invocation-concurrency', '2'];
      target.hold();
      const first = startCli(
        [
          'run',
          '--state',
          state,
          '--manifest',
          manifest,
          '--allow-host',
          '127.0.0.1',
          ...own,
          ...limits,
          ...concurrency,
        ],
        {
          NODE_OPTIONS: `--import=${killInTransact}`,
          BF_KILL_IN_TRANSACT: JSON.stringify({ marker: `"settle#${name}:`, applied }),
        },
      );
      await orchestratorJournaled(state, first);
      await heldReach(target, 1);
      target.release();
      expect((await first.done).signal).toBe('SIGKILL');
      const before = requestsOf(name);

      const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
      const report = reportOf(resumed);
      expect({
        code: resumed.code,
        status: report.status,
        counts: [
          report.submitted,
          report.succeeded,
          report.deadLettered,
          report.invalid,
          report.unfinished ?? 0,
        ],
      }).toEqual({ code: 0, status: 'succeeded', counts: [TASKS, TASKS, 0, 0, 0] });
      const after = requestsOf(name);
      expect(after.size).toBe(TASKS);
      // The settle cut in two is undone: its message was in flight and went back. In `off` mode its tasks ran again
      // (no more than the report says could have); in `task` mode their records said they had completed.
      const twice = [...after].filter(([, n]) => n > 1).map(([path]) => path);
      expect(twice.every((path) => before.has(path))).toBe(true);
      expect(twice.length).toBeLessThanOrEqual(mode === 'off' ? (report.resumed?.tasks ?? 0) : 0);
      expect([...after.values()].every((n) => n <= 2)).toBe(true);
    },
    120_000,
  );
});
