// The CLI's kept bundle: the TypeScript of the CLI, the functions and the AWS SDK, built by esbuild into a few
// plain ES modules under .tmp/cli/, so a command starts without the module hooks. Through the hooks (Node 20
// runs them on a thread of their own, one round trip per module) and the SDK's hundreds of CommonJS files,
// `--help` took 0.46 s and `run` reached its job 1.2 s after start; from the bundle 0.17 s and 0.6 s
// (bench/RESULTS.md, "the CLI's start").
//
// How it works: a build records every file of ours it read with its modification time and size, and the
// installed packages' lock (node_modules/.package-lock.json); a start uses the bundle only while all of them
// are as recorded, on the same Node and esbuild, in the same directory. Otherwise the command runs from source
// through the hooks, as before, and a detached process builds a new bundle for the next start (one at a time: a
// lock file), so no command ever waits for a build. Builds land in a directory of their own, renamed into place
// whole, and `current.json` (written and renamed) names the one to use: a reader never sees half of either.
// BOUNDED_FANOUT_BUNDLE=off always runs from source and builds nothing.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = new URL('../../', import.meta.url);
/** Where builds and their record are kept: .tmp/cli/ (tests give a directory of their own). */
export const BUNDLE_DIR = new URL('.tmp/cli/', ROOT);
const INSTALLED = new URL('node_modules/.package-lock.json', ROOT);
// Bumped when what a build makes changes shape (entries, options), so an older bundle is never taken.
const RECIPE = 2;
// A lock older than this is a build that died: the next start may take it over.
const STALE_LOCK_MS = 120_000;
// Old builds are removed a day after they were made, the newest few never, nor one a live process started from
// (its mark in in-use/): a command started from one still imports its later chunks (a command module, each new
// container's own handler module), and a `serve` may run for days.
const OLD_BUILD_MS = 86_400_000;
const KEEP_BUILDS = 3;

/** The entries: the CLI, and the modules the local runtime imports by a path computed at run time. */
const ENTRIES = [
  'local/cli/main.ts',
  'functions/runtime.ts',
  'functions/worker.ts',
  'functions/orchestrator.ts',
];
// Left to node's loader: native or file-reading packages, esbuild itself, and what only some commands load.
const EXTERNAL = [
  'dynalite',
  'esbuild',
  'fauxqs',
  'testcontainers',
  '@testcontainers/localstack',
  'playwright-core',
  '@sparticuz/chromium',
];
// CommonJS packages bundled into an ES module still call require() for node's builtins.
const REQUIRE =
  "import { createRequire as __bfRequire } from 'node:module'; const require = __bfRequire(import.meta.url);";

export const bundleOff = (env = process.env) => env.BOUNDED_FANOUT_BUNDLE === 'off';

const fingerprint = (file) => {
  const s = statSync(file);
  return `${s.mtimeMs}:${s.size}`;
};

const installed = () => {
  try {
    return fingerprint(INSTALLED);
  } catch {
    return 'none';
  }
};

const versionOf = (pkg) =>
  JSON.parse(readFileSync(new URL(`node_modules/${pkg}/package.json`, ROOT), 'utf8')).version;

/** What the bundle must have been built from, besides our files. */
const toolchain = () => ({
  recipe: RECIPE,
  // The bundle names our files by absolute URL (a module's own, as in source): a moved or copied checkout
  // (same times and sizes) would read the original's cdk.json and build its thread containers from its sources.
  root: ROOT.href,
  node: process.versions.node,
  esbuild: versionOf('esbuild'),
  installed: installed(),
});

/**
 * The bundle to start from: `{ base, main }` (URLs) while every file it was built from is unchanged, else
 * undefined. Never throws: a missing, partial or foreign record only means "run from source".
 */
export function freshBundle({ out = BUNDLE_DIR } = {}) {
  try {
    const record = JSON.parse(readFileSync(new URL('current.json', out), 'utf8'));
    const now = toolchain();
    for (const key of Object.keys(now)) if (record[key] !== now[key]) return undefined;
    for (const [file, print] of Object.entries(record.inputs)) {
      if (fingerprint(new URL(file, ROOT)) !== print) return undefined;
    }
    // An id names a directory of builds' own, never a path elsewhere.
    if (typeof record.id !== 'string' || !/^[a-z0-9]+-[0-9]+$/.test(record.id)) return undefined;
    const base = new URL(`${record.id}/`, out);
    const main = new URL('local/cli/main.js', base);
    statSync(main);
    return { base, main };
  } catch {
    return undefined;
  }
}

/**
 * Marks the build at `base` as used by this process until it exits (`in-use/<pid>`), so no later build removes
 * it however old it gets: without the mark, a `serve` older than a day lost its build to the fourth build after
 * it, and every container it started from then on failed (ERR_MODULE_NOT_FOUND). A process killed outright
 * leaves its mark, which counts no more once no process has its id.
 */
export function markInUse(base) {
  const mark = new URL(`in-use/${process.pid}`, base);
  try {
    mkdirSync(new URL('in-use/', base), { recursive: true });
    writeFileSync(mark, '');
    process.on('exit', () => {
      try {
        unlinkSync(mark);
      } catch {}
    });
  } catch {
    // Not marked (a read-only install, say): the build is still kept while it is among the newest or young.
  }
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM'; // there, but another user's
  }
};

/** Whether a live process started from the build in `dir` (markInUse). */
const inUse = (dir) =>
  readdir(new URL('in-use/', dir)).then(
    (pids) => pids.some((pid) => /^\d+$/.test(pid) && alive(Number(pid))),
    () => false,
  );

/** Starts a detached build for the next start, unless one is running; this process does not wait for it. */
export function buildInBackground() {
  try {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--build'], {
      detached: true,
      stdio: 'ignore',
      cwd: fileURLToPath(ROOT),
    });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No build this time: the next start tries again.
  }
}

/** Takes the build lock: false when another build holds it (and is not stale). */
async function lock(out) {
  const file = new URL('build.lock', out);
  await mkdir(out, { recursive: true });
  for (let tries = 0; tries < 2; tries++) {
    try {
      closeSync(openSync(file, 'wx'));
      return true;
    } catch {
      const age = await stat(file).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age < STALE_LOCK_MS) return false;
      await rm(file, { force: true });
    }
  }
  return false;
}

// In code, what a module's own URL or path would be (`import.meta.url`, `.dirname`, `.filename`); a comment or
// a string (single- or double-quoted: thread-bundle.ts's banner holds `import.meta.url` in one) is matched first,
// so it is passed over whole.
const META =
  /\/\/[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|\bimport\.meta\.(url|dirname|filename)\b/g;

/**
 * `source` with every `import.meta.url` (and `.dirname`, `.filename`) in its code replaced by the source file's
 * own, as node gives them when it runs the file: the bundle's modules live elsewhere, and a path made from
 * theirs would point into .tmp/cli/. Any form: `new URL(x, import.meta.url)` on one line or, as the formatter
 * breaks a long one, over three with a trailing comma; `fileURLToPath(import.meta.url)`; `createRequire(...)`.
 */
export function withSourceUrls(source, path) {
  const own = { url: pathToFileURL(path).href, dirname: dirname(path), filename: path };
  return source.replace(META, (text, key) => (key ? JSON.stringify(own[key]) : text));
}

/**
 * Gives our files their source URLs (withSourceUrls), and notes each file's fingerprint as it was before it was
 * read (a file changed during the build then no longer matches, and the next start builds again).
 */
const sourceUrls = (read) => ({
  name: 'source-urls',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      read.set(args.path, fingerprint(args.path));
      const source = await readFile(args.path, 'utf8');
      return { contents: withSourceUrls(source, args.path), loader: 'ts' };
    });
  },
});

/** Builds a bundle and makes it current; false when another build holds the lock. */
export async function buildBundle({ out = BUNDLE_DIR } = {}) {
  if (!(await lock(out))) return false;
  try {
    const { build } = await import('esbuild');
    const made = toolchain();
    const id = `${Date.now().toString(36)}-${process.pid}`;
    const partial = new URL(`${id}.partial/`, out);
    const read = new Map();
    // This file too: how the bundle is made (entries, externals, the rewrite) is written here, and an edit to it
    // must not leave an older recipe's bundle in use (RECIPE is for a change elsewhere, such as esbuild's options).
    const self = fileURLToPath(import.meta.url);
    read.set(self, fingerprint(self));
    const root = fileURLToPath(ROOT);
    const result = await build({
      absWorkingDir: root,
      entryPoints: ENTRIES.map((entry) => fileURLToPath(new URL(entry, ROOT))),
      outbase: root,
      outdir: fileURLToPath(partial),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node}`,
      external: EXTERNAL,
      banner: { js: REQUIRE },
      plugins: [sourceUrls(read)],
      metafile: true,
      // As the hooks transform (ts-hooks.mjs), not from tsconfig.json, which no build records.
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
      logLevel: 'silent',
    });
    const inputs = { [relative(root, self)]: read.get(self) };
    for (const file of Object.keys(result.metafile.inputs)) {
      if (file.includes('node_modules/')) continue;
      const path = fileURLToPath(new URL(file, ROOT));
      inputs[relative(root, path)] = read.get(path) ?? fingerprint(path);
    }
    await rename(partial, new URL(`${id}/`, out));
    const record = new URL(`current.${process.pid}.partial`, out);
    await writeFile(record, JSON.stringify({ id, ...made, inputs }));
    await rename(record, new URL('current.json', out));
    await removeOld(out, id);
    return true;
  } finally {
    try {
      unlinkSync(new URL('build.lock', out));
    } catch {}
  }
}

/**
 * Removes old builds: all but the newest KEEP_BUILDS, and of those only the ones made more than OLD_BUILD_MS ago
 * that no live process started from (a long `serve` still imports its build's handler module for each new
 * container). Partial directories of builds that died go the same way.
 */
async function removeOld(out, keep) {
  const dirs = [];
  for (const entry of await readdir(out, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === keep) continue;
    const dir = new URL(`${entry.name}/`, out);
    const mtimeMs = await stat(dir).then(
      (s) => s.mtimeMs,
      () => Date.now(),
    );
    dirs.push({ dir, mtimeMs });
  }
  dirs.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { dir, mtimeMs } of dirs.slice(KEEP_BUILDS - 1)) {
    if (Date.now() - mtimeMs > OLD_BUILD_MS && !(await inUse(dir)))
      await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--build') {
  process.exitCode = (await buildBundle()) ? 0 : 1;
}
