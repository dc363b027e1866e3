// The files thread containers load (local/thread-bundle.ts): real esbuild builds of the real container entry,
// read back. A container's bundle takes its packages in (no thread loads the SDK file by file), and it is kept
// between processes (a second process finds the same file and does not build or write it again).

import { readFile, stat } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

const ENTRY = new URL('../../local/container-thread.ts', import.meta.url);

/** A fresh instance of the module, as a new process has: nothing built yet in its memory. */
async function freshBundled() {
  vi.resetModules();
  return (await import('../../local/thread-bundle.js')).bundled;
}

/**
 * The installed packages (not node's builtins) a bundle leaves to node's loader: static and dynamic imports,
 * require(). esbuild writes a specifier in double quotes (single-quoted ones are in the packages' comments); a
 * package that is not installed is one an SDK requires optionally, in a try.
 */
function packagesImported(code: string): string[] {
  const specifiers = [...code.matchAll(/(?:\bfrom|\bimport\s*\(|\brequire\s*\()\s*"([^"./][^"]*)"/g)];
  const installed = (s: string) => {
    try {
      createRequire(ENTRY).resolve(s);
      return true;
    } catch {
      return false;
    }
  };
  const builtin = (s: string) => s.startsWith('node:') || builtinModules.includes(s.split('/')[0]);
  return [...new Set(specifiers.map((m) => m[1]).filter((s) => !builtin(s) && installed(s)))];
}

const FUNCTIONS_PACKAGES = /^(@aws-sdk|@smithy|@aws-lambda-powertools|undici$|zod$)/;

describe('thread bundles', () => {
  it("a container's bundle takes in its packages; an external one leaves them to node", async () => {
    const bundled = await freshBundled();
    const external = await readFile(await bundled(ENTRY, 'external'), 'utf8');
    const whole = await readFile(await bundled(ENTRY, 'bundle'), 'utf8');
    expect(packagesImported(external).filter((p) => FUNCTIONS_PACKAGES.test(p)).length).toBeGreaterThan(3);
    expect(packagesImported(whole).filter((p) => FUNCTIONS_PACKAGES.test(p))).toEqual([]);
  }, 60_000);

  it('a second process finds the kept bundle: the same file, not written again', async () => {
    const first = await (await freshBundled())(ENTRY, 'bundle');
    const before = await stat(fileURLToPath(first));
    const second = await (await freshBundled())(ENTRY, 'bundle');
    const after = await stat(fileURLToPath(second));
    expect(second.href).toBe(first.href);
    // A rewrite is a new file renamed over the old one: a new inode.
    expect(after.ino).toBe(before.ino);
  }, 60_000);
});
