// `npm run bench`: runs every benchmark one after another (never side by side: they would measure each
// other) and writes bench/RESULTS.md. Each module exports `run(): Promise<string>` returning its markdown.
// `npm run bench -- http` runs only the named ones.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { calibrate } from './calibrate.js';

const benches = ['primitives', 'http', 'downstream', 'pipeline', 'ledger', 'cli-start'] as const;

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const chosen = only.length ? benches.filter((b) => only.includes(b)) : benches;
  const sections: string[] = [];
  const before = await calibrate();
  for (const name of chosen) {
    console.error(`bench: ${name}`);
    const mod = (await import(`./${name}.js`)) as { run: () => Promise<string> };
    sections.push(await mod.run());
  }
  const after = await calibrate();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const mps = (rate: number) => `${(rate / 1e6).toFixed(2)} M/s`;
  const header = [
    '# Benchmark results',
    '',
    `Machine: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    'Shared, noisy machine: absolute figures move a lot between runs; ratios measured side by side in one run hold.',
    `Machine speed (bench/calibrate.ts, a minimal no-op task loop; about 4.1 M/s here when quiet): ${mps(before)} before the run, ${mps(after)} after.`,
    '',
  ].join('\n');
  const body = `${header}\n${sections.join('\n\n')}\n`;
  if (only.length) {
    console.log(body);
  } else {
    await writeFile(new URL('./RESULTS.md', import.meta.url), body);
    console.log(body);
  }
}

await main();
