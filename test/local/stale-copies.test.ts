// The copies of disk-held objects left by a process killed outright (local/stale-copies.ts): removed when their
// process is gone, kept while it (or whatever has its PID) runs, and nothing else in the directory touched.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copiesPrefixOf, removeStaleCopies } from '../../local/stale-copies.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-stale-copies-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function copies(name: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(path);
  await writeFile(join(path, '1.object'), 'manifest bytes');
  return path;
}

describe('removeStaleCopies', () => {
  it('removes the directories of processes that are gone, and only those', async () => {
    const gonePid = spawnSync(process.execPath, ['-e', '0']).pid;
    const gone = await copies(`${copiesPrefixOf(gonePid)}AbC123`);
    const running = await copies(`${copiesPrefixOf(process.ppid)}XyZ789`);
    const own = await copies(`${copiesPrefixOf(process.pid)}Own000`);
    const other = await copies('bounded-fanout-objects-notapid');
    const unrelated = await copies('something-else');
    expect(await removeStaleCopies(dir)).toBe(1);
    expect([gone, running, own, other, unrelated].map((path) => existsSync(path))).toEqual([
      false,
      true,
      true,
      true,
      true,
    ]);
  });

  it('a directory that cannot be read removes nothing', async () => {
    expect(await removeStaleCopies(join(dir, 'absent'))).toBe(0);
  });
});
