// The package as someone outside this repo gets it: `npm pack` (which builds dist/ with tsc), the tarball
// unpacked into a scratch project's node_modules as npm would, with only its declared `dependencies` beside
// it (linked from this repo's node_modules: no registry in tests), then every entry imported by name under
// plain Node, no TypeScript loader. The main entry's import graph reaches no AWS SDK, undici or zod, and
// @arethetypeswrong/cli finds nothing wrong with the tarball's types for an ESM-only package.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './local/cli/cli-process.js';

const run = promisify(execFile);

interface PackageJson {
  readonly name: string;
  readonly dependencies: Record<string, string>;
  readonly exports: Record<string, unknown>;
}

const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const entries = Object.keys(pkg.exports).filter((e) => e !== './package.json');

let scratch: string;
let tarball: string;
let installed: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'bf-pack-'));
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', scratch], {
    cwd: repoRoot,
  });
  tarball = join(scratch, stdout.trim().split('\n').at(-1)!);
  installed = join(scratch, 'node_modules', pkg.name);
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = join(scratch, 'node_modules', dep);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(repoRoot, 'node_modules', dep), link, 'dir');
  }
  await writeFile(join(scratch, 'package.json'), '{ "name": "scratch", "type": "module", "private": true }');
}, 120_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function exportsOf(entry: string): Promise<string[]> {
  const specifier = entry === '.' ? pkg.name : `${pkg.name}/${entry.slice(2)}`;
  const code = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: scratch });
  return JSON.parse(stdout);
}

/** Bare specifiers (packages, node: builtins) reachable from one built file through relative imports. */
async function bareImportsFrom(file: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const pending = [file];
  while (pending.length > 0) {
    const current = pending.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    const text = await readFile(current, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)) {
      const spec = m[1];
      if (spec.startsWith('.')) pending.push(resolve(dirname(current), spec));
      else bare.add(spec.startsWith('node:') ? 'node:' : spec);
    }
  }
  return bare;
}

describe('the package', () => {
  it('ships the built library and nothing of the repo beside it', async () => {
    const top = (await readdir(installed)).sort();
    expect(top).toEqual(['README.md', 'dist', 'package.json']);
  });

  it('main entry: exactly the primitives, by name', async () => {
    expect((await exportsOf('.')).sort()).toEqual(
      [
        'AbortError',
        'BoundedFanoutError',
        'BoundedQueue',
        'ErrorCodes',
        'InvalidArgumentError',
        'QueueClosedError',
        'QueueFullError',
        'Semaphore',
        'ThreadPool',
        'TimeoutError',
        'consume',
        'isCancellablePullSource',
        'mapBounded',
        'pullCancellable',
        'runBounded',
      ].sort(),
    );
  });

  it('main entry loads no AWS SDK, undici or zod', async () => {
    const bare = await bareImportsFrom(join(installed, 'dist/index.js'));
    expect([...bare].sort()).toEqual(['node:', 'piscina']);
  });

  it.each(entries.filter((e) => e !== '.'))('subpath %s imports under plain Node', async (entry) => {
    const names = await exportsOf(entry);
    expect(names.length).toBeGreaterThan(0);
    const expected: Record<string, string> = {
      './http': 'runHttpTask',
      './downstream': 'DownstreamPolicy',
      './fanout': 'settleMessage',
      './manifest': 'parseManifestStream',
      './ledger': 'finalStatus',
      './aws': 'sendMessageBatch',
      './budget': 'validateBudget',
      './config': 'defaultConfig',
      './config-environment': 'fromEnvironment',
    };
    expect(names).toContain(expected[entry]);
  });

  it('@arethetypeswrong/cli reports nothing for the tarball (ESM-only profile)', async () => {
    const attw = join(repoRoot, 'node_modules/.bin/attw');
    const result = await run(attw, [tarball, '--profile', 'esm-only', '--format', 'json'], {
      cwd: repoRoot,
    }).catch((error: { stdout: string; code: number }) => error);
    const report = JSON.parse(result.stdout) as {
      problems: Record<string, { entrypoint: string; resolutionKind?: string }[]>;
    };
    // ESM-only: the CommonJS and node10 resolutions are out of scope, as --profile esm-only says; any
    // problem under node16 (from ESM) or bundler is a real one.
    const real = Object.values(report.problems)
      .flat()
      .filter((p) => p.resolutionKind !== 'node16-cjs' && p.resolutionKind !== 'node10');
    expect(real).toEqual([]);
    expect('code' in result ? result.code : 0).toBe(0);
  }, 120_000);
});
