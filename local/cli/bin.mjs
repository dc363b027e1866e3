#!/usr/bin/env node
// The `bounded-fanout` executable: runs the CLI from its kept bundle when that is up to date (cli-bundle.mjs),
// else from the TypeScript sources through our module hooks (ts-hooks.mjs: esbuild's transform, present after
// `npm install` in a clone) while a bundle is built in the background for the next start. Then it exits with
// the command's code even if a stray handle is still open.
import { register } from 'node:module';
import v8 from 'node:v8';
import { buildInBackground, bundleOff, freshBundle, markInUse } from './cli-bundle.mjs';

// The local runtime allocates fast and keeps little (about 100 MB live at the end of a million-task job), and
// V8 then lets the heap grow to three or four times what is live before a full collection. A lower growth
// factor keeps the process near its live size at no cost in throughput measured here: 1.5 took the peak RSS
// for 200,000 tasks from 0.4 GB to 0.25 GB; 1.25 ran a million tasks at 375 MiB (620-840 MiB by default) in
// 231.5 s, against 233.7 s and 404 MiB with 1.5 in the same slow spell. V8 reads this flag at every collection, so setting it now takes effect;
// a value given on the command line wins.
if (!process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) {
  v8.setFlagsFromString('--heap-growing-percent=25');
}

const off = bundleOff();
const bundle = off ? undefined : freshBundle();
let main;
if (bundle) {
  markInUse(bundle.base); // no later build removes it while this process runs
  // The modules that import a path computed at run time find the bundle's files here (local/bundle-base.ts).
  globalThis[Symbol.for('bounded-fanout.bundle')] = bundle.base;
  ({ main } = await import(bundle.main.href));
} else {
  if (!off) buildInBackground();
  register('./ts-hooks.mjs', import.meta.url);
  ({ main } = await import('./main.ts'));
}
const code = await main(process.argv.slice(2));
process.exit(code);
