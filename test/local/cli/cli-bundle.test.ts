// The CLI's kept bundle (local/cli/cli-bundle.mjs): built from the real sources by the real esbuild into a
// directory of the test's own; fresh only while everything it was built from is as recorded; one build at a
// time; and a job run from it ends as the same job run from source (real functions, emulators and a loopback
// server that counts each task's requests).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { buildBundle, bundleOff, freshBundle, withSourceUrls } from '../../../local/cli/cli-bundle.mjs';
import type { RunReport } from '../../../local/report/types.js';
import { repoRoot, runCli } from './cli-process.js';

// Under the repository, as .tmp/cli/ is: the bundle's external packages resolve from its node_modules.
const out = new URL(`../../../.tmp/test-cli-bundle-${process.pid}/`, import.meta.url);
const dir = fileURLToPath(out);
let server: CountingServer;

beforeAll(async () => {
  server = await startCountingServer();
  expect(await buildBundle({ out })).toBe(true);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const record = async () => JSON.parse(await readFile(join(dir, 'current.json'), 'utf8'));
const rewrite = (r: object) => writeFile(join(dir, 'current.json'), JSON.stringify(r));

describe('freshness', () => {
  it('a new build is fresh, its files inside the directory given', () => {
    const fresh = freshBundle({ out });
    expect(fresh?.base.href.startsWith(out.href)).toBe(true);
    expect(fresh?.main.href).toBe(new URL('local/cli/main.js', fresh?.base).href);
  });

  it('records every file of ours it was built from, and none of the packages', async () => {
    const { inputs } = await record();
    expect(Object.keys(inputs)).toEqual(
      expect.arrayContaining([
        'local/cli/main.ts',
        'functions/worker.ts',
        'lib/config.ts',
        'local/cli/cli-bundle.mjs', // the builder itself
      ]),
    );
    expect(Object.keys(inputs).filter((f) => f.includes('node_modules'))).toEqual([]);
  });

  it('is stale once a file it was built from changes, and fresh again when it is as recorded', async () => {
    const saved = await record();
    const probe = join(dir, 'probe.ts');
    await writeFile(probe, 'export const a = 1;\n');
    const { mtimeMs, size } = await stat(probe);
    const name = `.tmp/test-cli-bundle-${process.pid}/probe.ts`;
    await rewrite({ ...saved, inputs: { ...saved.inputs, [name]: `${mtimeMs}:${size}` } });
    expect(freshBundle({ out })).toBeDefined();
    await utimes(probe, new Date(), new Date(mtimeMs + 5_000));
    expect(freshBundle({ out })).toBeUndefined();
    await utimes(probe, new Date(), new Date(mtimeMs));
    await writeFile(probe, 'export const a = 12;\n');
    await utimes(probe, new Date(), new Date(mtimeMs));
    expect(freshBundle({ out })).toBeUndefined(); // same time, other size
    await rewrite(saved);
    expect(freshBundle({ out })).toBeDefined();
  });

  it('is stale on another Node, esbuild, recipe, install or root, and a bad record is no bundle', async () => {
    const saved = await record();
    for (const key of ['node', 'esbuild', 'recipe', 'installed', 'root']) {
      await rewrite({ ...saved, [key]: 'other' });
      expect(freshBundle({ out }), key).toBeUndefined();
    }
    await writeFile(join(dir, 'current.json'), '{ half a rec');
    expect(freshBundle({ out })).toBeUndefined();
    await rewrite({ ...saved, id: 'gone' });
    expect(freshBundle({ out })).toBeUndefined();
    await mkdir(join(dir, 'lock-test'), { recursive: true });
    await rewrite({ ...saved, id: `../test-cli-bundle-${process.pid}/${saved.id}` }); // exists, but a path
    expect(freshBundle({ out })).toBeUndefined();
    await rewrite(saved);
    expect(freshBundle({ out })).toBeDefined();
  });

  it('is not fresh for a copy of the checkout, whose files have the same times and sizes', async () => {
    // The bundle names our files by their absolute URLs (cdk.json, the thread containers' sources): from the
    // copy, it would read the original's.
    const copy = join(dir, 'copy');
    await mkdir(copy);
    // cp -a keeps the times to the nanosecond (node's fs.cp to the millisecond only).
    execFileSync('cp', ['-a', ...['lib', 'functions', 'local'].map((part) => join(repoRoot, part)), copy]);
    await symlink(join(repoRoot, 'node_modules'), join(copy, 'node_modules'));
    const moved = await import(pathToFileURL(join(copy, 'local/cli/cli-bundle.mjs')).href);
    expect(moved.freshBundle({ out })).toBeUndefined();
    expect(freshBundle({ out })).toBeDefined();
  });

  it('BOUNDED_FANOUT_BUNDLE=off turns it off, nothing else does', () => {
    expect(bundleOff({ BOUNDED_FANOUT_BUNDLE: 'off' })).toBe(true);
    expect(bundleOff({ BOUNDED_FANOUT_BUNDLE: 'on' })).toBe(false);
    expect(bundleOff({})).toBe(false);
  });
});

describe("a module's own URL", () => {
  const path = '/repo/local/cli/some-file.ts';
  const url = JSON.stringify(pathToFileURL(path).href);

  it("is the source file's in every form, a long new URL broken over lines by the formatter too", () => {
    const source = [
      "const a = new URL('../../cdk.json', import.meta.url);",
      'const b = new URL(',
      "  '../../some/rather/long/path/to/a/fixture/file.json',",
      '  import.meta.url,',
      ');',
      'const c = fileURLToPath(import.meta.url);',
      'const d = import.meta.dirname + import.meta.filename;',
    ].join('\n');
    expect(withSourceUrls(source, path).split('\n')).toEqual([
      `const a = new URL('../../cdk.json', ${url});`,
      'const b = new URL(',
      "  '../../some/rather/long/path/to/a/fixture/file.json',",
      `  ${url},`,
      ');',
      `const c = fileURLToPath(${url});`,
      'const d = "/repo/local/cli" + "/repo/local/cli/some-file.ts";',
    ]);
  });

  it('is left as written in a string and a comment', () => {
    const source = [
      '"import { x } from \'node:module\'; const require = __bfRequire(import.meta.url);";',
      "'it\\'s import.meta.url';",
      '// import.meta.url is the source file',
      '/* import.meta.url */ const e = import.meta.url;',
    ].join('\n');
    expect(withSourceUrls(source, path).split('\n')).toEqual([
      ...source.split('\n').slice(0, 3),
      `/* import.meta.url */ const e = ${url};`,
    ]);
  });

  it('is nowhere left to the bundle in the real build, but in the banner', async () => {
    const { id } = await record();
    const left: string[] = [];
    for (const file of await readdir(join(dir, id), { recursive: true })) {
      if (!file.endsWith('.js')) continue;
      const text = (await readFile(join(dir, id, file), 'utf8')).replaceAll(
        '__bfRequire(import.meta.url)',
        '',
      );
      if (text.includes('import.meta')) left.push(file);
    }
    expect(left).toEqual([]);
  });
});

describe('one build at a time', () => {
  it('does not build while another build holds the lock, and takes over a lock left by a dead one', async () => {
    const other = new URL('lock-test/', out);
    await mkdir(other, { recursive: true });
    const lock = new URL('build.lock', other);
    await writeFile(lock, '');
    expect(await buildBundle({ out: other })).toBe(false);
    expect(freshBundle({ out: other })).toBeUndefined();
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(lock, old, old);
    expect(await buildBundle({ out: other })).toBe(true);
    expect(freshBundle({ out: other })).toBeDefined();
    await expect(readFile(lock)).rejects.toThrow(/ENOENT/); // released
  }, 120_000);
});

describe('old builds', () => {
  it('keeps the newest two besides the new one, and the others only while younger than a day', async () => {
    const other = new URL('old-test/', out);
    const ages = { e: 60_000, a: 2 * 86_400_000, b: 3 * 86_400_000, c: 4 * 86_400_000, d: 5 * 86_400_000 };
    for (const [name, age] of Object.entries(ages)) {
      const build = new URL(`${name}/`, other);
      await mkdir(build, { recursive: true });
      const when = new Date(Date.now() - age);
      await utimes(build, when, when);
    }
    expect(await buildBundle({ out: other })).toBe(true);
    const left = (await readdir(other)).filter((n) => n.length === 1).sort();
    expect(left).toEqual(['a', 'e']);
    expect(freshBundle({ out: other })).toBeDefined(); // and the new one
  }, 120_000);
});

/** A node process that marks `build` in use (markInUse), says so, then exits or waits to be killed. */
async function marker(build: URL, then: 'exit' | 'wait') {
  const module = new URL('../../../local/cli/cli-bundle.mjs', import.meta.url).href;
  const script = [
    `const { markInUse } = await import(${JSON.stringify(module)});`,
    `markInUse(new URL(${JSON.stringify(build.href)}));`,
    "console.log('marked');",
    then === 'wait' ? 'setInterval(() => {}, 60_000);' : '',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [data] = await once(child.stdout, 'data');
  expect(String(data)).toContain('marked');
  return child;
}

describe('a build in use', () => {
  it('is kept past a day while a process started from it lives, and goes once none does', async () => {
    const other = new URL('in-use-test/', out);
    const builds = ['n1', 'n2', 'n3', 'live', 'killed', 'exited'].map((name) => new URL(`${name}/`, other));
    for (const build of builds) await mkdir(build, { recursive: true });
    const [, , , live, killed, exited] = builds;
    await mkdir(new URL('in-use/', live));
    await writeFile(new URL(`in-use/${process.pid}`, live), ''); // this process: alive
    // A process killed outright leaves its mark; one that exits takes it away.
    const victim = await marker(killed, 'wait');
    expect(await readdir(new URL('in-use/', killed))).toEqual([String(victim.pid)]);
    victim.kill('SIGKILL');
    await once(victim, 'close');
    const done = await marker(exited, 'exit');
    if (done.exitCode === null) await once(done, 'close');
    expect(await readdir(new URL('in-use/', exited))).toEqual([]);
    // n1-n3 are the newest, and younger than a day; the other three were made two days ago.
    for (const [i, build] of builds.entries()) {
      const when = new Date(Date.now() - (i < 3 ? 60_000 * (i + 1) : 2 * 86_400_000));
      await utimes(build, when, when);
    }
    expect(await buildBundle({ out: other })).toBe(true);
    const left = (await readdir(other)).filter((n) => /^[a-z]+\d?$/.test(n)).sort();
    expect(left).toEqual(['live', 'n1', 'n2', 'n3']);
  }, 120_000);
});

/** `bounded-fanout run` from the bundle in `out`, as bin.mjs starts it (the bundle's base set first). */
async function runFromBundle(args: readonly string[]) {
  const fresh = freshBundle({ out });
  if (!fresh) throw new Error('no fresh bundle');
  // A file, not `node -e`: the runtime's threads inherit node's flags, and `--input-type` fails them.
  const launcher = join(dir, 'launch.mjs');
  const script = [
    `globalThis[Symbol.for('bounded-fanout.bundle')] = new URL(${JSON.stringify(fresh.base.href)});`,
    `const { main } = await import(${JSON.stringify(fresh.main.href)});`,
    'process.exit(await main(process.argv.slice(2)));',
  ].join('\n');
  await writeFile(launcher, script);
  const child = spawn(process.execPath, [launcher, ...args], {
    cwd: repoRoot,
    env: { ...process.env, CI: 'true', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code] = await once(child, 'close');
  return { code: code as number, stderr };
}

describe('a job from the bundle', () => {
  it('ends as the same job from source: every task once, the same counts', async () => {
    const tasks = 120;
    const lines = [JSON.stringify({ jobId: 'bundle-job' })];
    for (let i = 0; i < tasks; i++) lines.push(JSON.stringify({ id: `t${i}`, url: `${server.url}/t${i}` }));
    const manifest = join(dir, 'tasks.ndjson');
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const flags = ['--manifest', manifest, '--allow-host', '127.0.0.1', '--tasks-per-message', '5'];

    const bundled = await runFromBundle(['run', ...flags, '--report', join(dir, 'bundle.json')]);
    expect(bundled.code, bundled.stderr).toBe(0);
    const afterBundle = server.requests.length;
    const source = await runCli(['run', ...flags, '--report', join(dir, 'source.json')], {
      BOUNDED_FANOUT_BUNDLE: 'off',
    });
    expect(source.code, source.stderr).toBe(0);

    const fromBundle = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8')) as RunReport;
    const fromSource = JSON.parse(await readFile(join(dir, 'source.json'), 'utf8')) as RunReport;
    for (const report of [fromBundle, fromSource]) {
      expect(report).toMatchObject({
        status: 'succeeded',
        submitted: tasks,
        succeeded: tasks,
        deadLettered: 0,
      });
      expect(report.peaks.workers).toBeGreaterThan(0); // the queue was drained by worker containers
    }
    // Each run reached every task exactly once.
    const perTask = (from: number, to: number) => {
      const counts = new Map<string, number>();
      for (const r of server.requests.slice(from, to)) counts.set(r.path, (counts.get(r.path) ?? 0) + 1);
      return counts;
    };
    for (const counts of [perTask(0, afterBundle), perTask(afterBundle, server.requests.length)]) {
      expect(counts.size).toBe(tasks);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
    }
  }, 120_000);
});
