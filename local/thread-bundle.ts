// Container threads start from plain JavaScript: the thread's entry (and a test's handler module) is bundled
// from our TypeScript once per process by esbuild (packages stay external), and each thread loads that one
// file. A thread could instead register the CLI's module hooks (cli/ts-hooks.mjs), but on Node 20 each
// registration starts a hooks thread of its own and transforms every file again: with ten containers that
// doubled the isolates and the memory (see thread-container.ts). The file lands under .tmp/threads/ in the
// repository, so its bare imports resolve to the repository's node_modules; its name is its content's hash, so
// processes running at once share it safely.
import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const OUT_DIR = new URL('../.tmp/threads/', import.meta.url);
const built = new Map<string, Promise<URL>>();

/** A JavaScript file a thread can load for `entry`: `entry` itself unless it is TypeScript. */
export function bundled(entry: URL): Promise<URL> {
  if (!entry.pathname.endsWith('.ts')) return Promise.resolve(entry);
  let out = built.get(entry.href);
  if (!out) {
    out = bundle(entry);
    built.set(entry.href, out);
    out.catch(() => built.delete(entry.href)); // a failed build is tried again next time
  }
  return out;
}

async function bundle(entry: URL): Promise<URL> {
  const result = await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    target: `node${process.versions.node}`,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const name = `${basename(entry.pathname, '.ts')}-${hash}`;
  await mkdir(OUT_DIR, { recursive: true });
  const out = new URL(`${name}.mjs`, OUT_DIR);
  // Written under a name of this process's own, then renamed: a reader never sees half a file.
  const partial = new URL(`${name}.${process.pid}.partial`, OUT_DIR);
  await writeFile(partial, code);
  await rename(partial, out);
  return out;
}
