// Container threads start from plain JavaScript: the thread's entry (and a test's handler module) is bundled
// from our TypeScript once per process by esbuild, and each thread loads that one file. A thread could instead
// register the CLI's module hooks (cli/ts-hooks.mjs), but on Node 20 each registration starts a hooks thread of
// its own and transforms every file again: with ten containers that doubled the isolates and the memory (see
// thread-container.ts). The file lands under .tmp/threads/ in the repository, so its bare imports resolve to the
// repository's node_modules; its name is its content's hash, so processes running at once share it safely.
// A container's entry takes its packages into the bundle (`'bundle'`): left external, each of ten threads loaded
// the AWS SDK's hundreds of CommonJS files through the ESM loader (its CommonJS lexer, a format check and stat
// calls per file), and a run of 20,000 tasks on ten thread containers took 13-25% more CPU (bench/RESULTS.md,
// ceiling16). The DynamoDB thread keeps them external: dynalite's LevelDB binding finds its native module from
// its own directory.
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, version } from 'esbuild';

const OUT_DIR = new URL('../.tmp/threads/', import.meta.url);
// npm's record of the packages installed in node_modules (not package-lock.json, which may be ahead of them).
const INSTALLED = new URL('../node_modules/.package-lock.json', import.meta.url);
const built = new Map<string, Promise<URL>>();

/** Whether the bundle takes in the packages it imports, or leaves them to node's loader. */
export type BundlePackages = 'bundle' | 'external';

// CommonJS packages bundled into an ES module still call require() for node's builtins.
const REQUIRE =
  "import { createRequire as __bfRequire } from 'node:module'; const require = __bfRequire(import.meta.url);";

/** A JavaScript file a thread can load for `entry`: `entry` itself unless it is TypeScript. */
export function bundled(entry: URL, packages: BundlePackages = 'external'): Promise<URL> {
  if (!entry.pathname.endsWith('.ts')) return Promise.resolve(entry);
  const key = `${packages} ${entry.href}`;
  let out = built.get(key);
  if (!out) {
    out = bundle(entry, packages);
    built.set(key, out);
    out.catch(() => built.delete(key)); // a failed build is tried again next time
  }
  return out;
}

async function bundle(entry: URL, packages: BundlePackages): Promise<URL> {
  const own = await esbuild(entry, 'external');
  const name = basename(entry.pathname, '.ts');
  if (packages === 'external') return written(own, `${name}-${hashOf([own])}`);
  // Taking the packages in costs esbuild 1.5-3.5 s on a busy 2-core machine, in the first container's cold
  // start: the bundle is kept under a name made of what it is built from (our code, the packages npm installed,
  // esbuild's version and options), so only the first run after a change pays it.
  const installed = await readFile(INSTALLED).catch(() => undefined);
  const made = [own, installed ?? String(Math.random()), version, JSON.stringify(optionsOf(entry, packages))];
  const key = `${name}-packages-${hashOf(made)}`;
  const cached = new URL(`${key}.mjs`, OUT_DIR);
  if (await exists(cached)) return cached;
  return written(await esbuild(entry, 'bundle'), key);
}

const optionsOf = (entry: URL, packages: BundlePackages): BuildOptions & { write: false } => ({
  entryPoints: [fileURLToPath(entry)],
  bundle: true,
  platform: 'node',
  format: 'esm',
  ...(packages === 'external' ? { packages } : { banner: { js: REQUIRE } }),
  target: `node${process.versions.node}`,
  write: false,
  logLevel: 'silent',
});

async function esbuild(entry: URL, packages: BundlePackages): Promise<Uint8Array> {
  const result = await build(optionsOf(entry, packages));
  return result.outputFiles[0].contents;
}

const hashOf = (parts: readonly (Uint8Array | string)[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
};

const exists = (file: URL) =>
  access(file).then(
    () => true,
    () => false,
  );

async function written(code: Uint8Array, name: string): Promise<URL> {
  await mkdir(OUT_DIR, { recursive: true });
  const out = new URL(`${name}.mjs`, OUT_DIR);
  // Written under a name of this process's own, then renamed: a reader never sees half a file.
  const partial = new URL(`${name}.${process.pid}.partial`, OUT_DIR);
  await writeFile(partial, code);
  await rename(partial, out);
  return out;
}
