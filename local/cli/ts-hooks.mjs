// Module hooks that let Node 20 run this repo's TypeScript as it is, for the CLI: a `.js` import that names a
// `.ts` file of ours resolves to it, and a `.ts` file is stripped of its types by esbuild's transform (no type
// check: `npm test` does that). tsx does the same but compiles with `keepNames`, which wraps every function
// made at run time in a defineProperty call: on the hot path of a fan-out (closures per task) that costs
// about a sixth of the throughput (bench/RESULTS.md, pipeline). Files under node_modules are never touched.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const ours = (url) => url.startsWith('file:') && !url.includes('/node_modules/');

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    // `./x.js` written for a file that is `./x.ts` (TypeScript's ESM convention).
    const relative = specifier.startsWith('.') || specifier.startsWith('file:');
    const parent = context.parentURL;
    if (!relative || !parent || !ours(parent) || !/\.js(\?.*)?$/.test(specifier)) throw error;
    return nextResolve(specifier.replace(/\.js(\?.*)?$/, '.ts$1'), context);
  }
}

export async function load(url, context, nextLoad) {
  const path = url.split('?')[0];
  if (!ours(url) || !path.endsWith('.ts')) return nextLoad(url, context);
  const file = fileURLToPath(path);
  const source = await readFile(file, 'utf8');
  const { code } = await transform(source, {
    loader: 'ts',
    format: 'esm',
    target: `node${process.versions.node}`,
    sourcemap: 'inline',
    sourcefile: file,
    // As tsconfig.json has it: imports are kept as written (type-only ones say `import type`).
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
