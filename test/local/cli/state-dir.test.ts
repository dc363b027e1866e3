// `run --state DIR` / `--resume`: the combinations refused before anything runs (exit 2, exact messages),
// and the state directory's claim: a new run takes an empty or missing directory only.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateDir, STATE_MARKER } from '../../../local/cli/state-dir.js';
import { formatSummary } from '../../../local/cli/summary.js';
import { fixtureReport } from '../report/fixture.js';
import { runCli } from './cli-process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-state-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openStateDir', () => {
  it('claims a missing directory, then refuses a second new run there and resumes the first', async () => {
    const state = join(dir, 'new');
    const first = await openStateDir(state, { resume: false, manifest: 'jobs.ndjson' });
    expect(first.resumed).toBe(false);
    expect(first.dynamoPath).toBe(join(state, 'dynamo'));
    await expect(openStateDir(state, { resume: false, manifest: 'other.ndjson' })).rejects.toThrow(
      `--state ${state} holds a run of jobs.ndjson already: add --resume to finish it, or give an empty directory`,
    );
    const again = await openStateDir(state, { resume: true });
    expect(again).toMatchObject({ resumed: true, marker: { manifest: 'jobs.ndjson' } });
  });

  it('refuses a directory that is not a state directory, and a resume with nothing to resume', async () => {
    const other = join(dir, 'other');
    await mkdir(other);
    await writeFile(join(other, 'notes.txt'), 'mine');
    await expect(openStateDir(other, { resume: false, manifest: 'm' })).rejects.toThrow(
      `--state ${other} is not a bounded-fanout state directory (no valid ${STATE_MARKER} among its 1 entries): give an empty directory`,
    );
    await writeFile(join(other, STATE_MARKER), '{"format":"something-else"}');
    await expect(openStateDir(other, { resume: true })).rejects.toThrow(
      /is not a bounded-fanout state directory/,
    );
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await expect(openStateDir(empty, { resume: true })).rejects.toThrow(
      `--state ${empty}: no run to resume there (no ${STATE_MARKER})`,
    );
  });
});

describe('bounded-fanout run: --state and --resume combinations', () => {
  const cases: Array<[string, string[], string]> = [
    ['--resume without --state', ['--resume'], '--resume needs --state DIR: it finishes the run kept there'],
    [
      '--resume with --manifest',
      ['--state', 'x', '--resume', '--manifest', 'm.ndjson'],
      '--resume and --manifest cannot be used together: the resume runs the manifest kept in --state DIR',
    ],
    [
      '--state with --endpoint',
      ['--state', 'x', '--manifest', 'm.ndjson', '--endpoint', 'http://127.0.0.1:4566'],
      "--state and --endpoint cannot be used together: --state keeps the embedded emulators' data",
    ],
    [
      '--state with the demo',
      ['--state', 'x'],
      '--state needs --manifest FILE: a resume reads the same manifest again (the demo and --retry-from are not kept)',
    ],
  ];
  it.each(cases)('%s exits 2 with its message', async (_name, flags, message) => {
    const result = await runCli(['run', ...flags]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('formatSummary of a resumed run', () => {
  it('says the counts cover both processes and how many tasks could have run twice', () => {
    const resumed = { startedAt: '2026-12-06T01:00:00.000Z', messages: 3, tasks: 15, inProgressCleared: 4 };
    const off = formatSummary(fixtureReport({ resumed: { ...resumed, idempotency: 'off' } }));
    expect(off).toContain(
      'Resumed the run started 2026-12-06T01:00:00.000Z (the counts cover both processes): 15 task(s) in flight or queued at the kill were put back and could have run twice.',
    );
    const task = formatSummary(fixtureReport({ resumed: { ...resumed, idempotency: 'task' } }));
    expect(task).toContain('could have run twice (none that had completed did: task idempotency).');
    // Open messages the ledger had settled (local/settled-open.ts) are said apart: none of their tasks ran.
    const settled = formatSummary(fixtureReport({ resumed: { ...resumed, idempotency: 'off', settled: 2 } }));
    expect(settled).toContain(
      'could have run twice; 2 message(s) settled before the kill ran none of their tasks again.',
    );
    expect(formatSummary(fixtureReport())).not.toContain('Resumed');
  });
});
