import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlags, withKeptRunFlags } from '../../../local/cli/resume-flags.js';
import { STATE_MARKER } from '../../../local/cli/state-dir.js';
import { UsageError } from '../../../local/cli/usage-error.js';

let dir: string;
const KEPT = ['--allow-host=127.0.0.1', '--idempotency=off', '--tasks-per-message=5'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-resume-flags-'));
  const marker = { format: 'bounded-fanout-state/1', manifest: 'm.ndjson', startedAt: 'x', flags: KEPT };
  await writeFile(join(dir, STATE_MARKER), JSON.stringify(marker));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('runFlags: what a `run --state` keeps for its resume', () => {
  it('keeps the run flags, each as --name=value, and leaves out the manifest and the resume’s own flags', () => {
    const args = ['--manifest', 'm.ndjson', '--allow-host', '127.0.0.1', '--idempotency=off', '--state', 'S'];
    const more = ['--report', 'r.json', '--format', 'json', '--listen', '127.0.0.1:0', '--verbose'];
    expect(runFlags([...args, ...more, '--tasks-per-message', '5'])).toEqual(KEPT);
  });
});

describe('withKeptRunFlags: a resume runs with its run’s flags', () => {
  it('puts the kept flags back before the resume’s own', () => {
    const argv = ['run', '--state', dir, '--resume', '--format', 'json'];
    expect(withKeptRunFlags(argv)).toEqual(['run', ...KEPT, `--state=${dir}`, '--resume', '--format=json']);
  });

  it('takes a kept flag given again, and refuses another, naming it', () => {
    const same = ['run', '--state', dir, '--resume', '--idempotency', 'off'];
    expect(withKeptRunFlags(same)).toEqual(['run', ...KEPT, `--state=${dir}`, '--resume']);
    const other = ['run', '--state', dir, '--resume', '--idempotency', 'task'];
    expect(() => withKeptRunFlags(other)).toThrow(UsageError);
    expect(() => withKeptRunFlags(other)).toThrow(
      `--resume runs with the flags the run in --state ${dir} started with (${KEPT.join(' ')}): --idempotency=task is not one of them; leave it out`,
    );
    expect(() => withKeptRunFlags([...other.slice(0, 4), '--manifest', 'x.ndjson'])).toThrow(/--manifest=x/);
  });

  it('leaves every other command line as given: the parser and the state directory judge it', () => {
    for (const argv of [
      ['plan', '--state', dir, '--resume'],
      ['run', '--state', dir, '--manifest', 'm.ndjson'],
      ['run', '--state', join(dir, 'none'), '--resume'],
      ['run', '--state', dir, '--resume', '--no-such-flag'],
      ['run', '--state', dir, '--resume', 'stray'],
      ['run'],
    ]) {
      expect(withKeptRunFlags(argv)).toBe(argv);
    }
  });
});
