// The job ledger's cost: `bounded-fanout run` with the ledger (a DynamoDB job table on dynalite behind the
// local DynamoDB front; a worker batch's messages of one run settled together, grouped while a run's
// transaction is in flight, read back only when the settle may have ended the run; a run record read per
// container every 2 s) against the same run with `--ledger off`, side by side in one run: pairs alternated
// (on off on off ...), a fresh process each run, medians and each pair's ratio. Packing at the default 25
// tasks per message, idempotency off (so the difference is the ledger's alone). Target: ledger on >= 0.9x
// ledger off. `--base DIR` adds another checkout's CLI (DIR/local/cli/bin.mjs, e.g. main exported with
// `git archive`, node_modules linked) to the same rotation: base on, base off, on, off, ...
//   npx tsx bench/ledger.ts [--tasks N] [--pairs N] [--base DIR]
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetServer } from '../local/demo/target-server.js';
import { alternate, type Contender, fmt, median } from './alternate.js';
import { writeManifest } from './pipeline.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const work = join(root, '.tmp/bench-ledger');
const FLAGS = ['--tasks-per-message', '25', '--idempotency', 'off'];

/** Ledger on and off, for this checkout and, when given, a base checkout's CLI. */
function contenders(base: string | undefined): Contender[] {
  const pair = (label: string, cli?: string) => [
    { name: `${label}ledger on`, flags: FLAGS, ...(cli ? { cli } : {}) },
    { name: `${label}ledger off`, flags: [...FLAGS, '--ledger', 'off'], ...(cli ? { cli } : {}) },
  ];
  return [...(base ? pair('base: ', join(base, 'local/cli/bin.mjs')) : []), ...pair('')];
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');

/** One checkout's rows: medians, runs, each pair's ratio (on / off of the same round) and CPU seconds. */
function rows(rates: Map<string, number[]>, cpu: Map<string, number[]>, label: string): string[] {
  const on = rates.get(`${label}ledger on`) ?? [];
  const off = rates.get(`${label}ledger off`) ?? [];
  const ratio = median(on) / median(off);
  const pairRatios = on.map((r, i) => (r / off[i]).toFixed(2)).join(', ');
  const seconds = (name: string) => median(cpu.get(`${label}${name}`) ?? []).toFixed(1);
  return [
    `| ${label}ledger on | ${fmt(median(on))} | ${on.map(fmt).join(', ')} | **${ratio.toFixed(2)}x** (pairs ${pairRatios}) | ${seconds('ledger on')} |`,
    `| ${label}ledger off | ${fmt(median(off))} | ${off.map(fmt).join(', ')} | | ${seconds('ledger off')} |`,
  ];
}

export async function run({
  tasks = 20_000,
  pairs = 5,
  base,
}: {
  tasks?: number;
  pairs?: number;
  base?: string;
} = {}) {
  await mkdir(work, { recursive: true });
  const target = await TargetServer.start();
  try {
    const manifest = join(work, `tasks-${tasks}.ndjson`);
    await writeManifest(manifest, tasks, target.url, 'bench-ledger');
    const loadBefore = load();
    const { rates, cpu } = await alternate(contenders(base), {
      manifest,
      tasks,
      rounds: pairs,
      reportFile: join(work, 'report.json'),
      label: 'ledger',
    });
    return [
      '## The job ledger on vs off (bench/ledger.ts)',
      '',
      `\`bounded-fanout run\`, ${fmt(tasks)} queued tasks a run at 25 tasks per message, idempotency off, the ledger on and \`--ledger off\` alternated in ${pairs} pairs (a fresh process each run${base ? `, the base checkout ${base} in the same rotation` : ''}), medians; tasks/s is submitted / the job's own duration. Load average (1, 5, 15 min) before: ${loadBefore}; after: ${load()}.`,
      '',
      '| contender | tasks/s (median) | runs | on / off | CPU s (median, whole process) |',
      '|---|---:|---|---|---:|',
      ...(base ? rows(rates, cpu, 'base: ') : []),
      ...rows(rates, cpu, ''),
      '',
      'Target: ledger on >= 0.9x ledger off.',
    ].join('\n');
  } finally {
    await target.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const i = process.argv.indexOf('--base');
  const base = i > 0 ? process.argv[i + 1] : undefined;
  console.log(await run({ tasks: arg('--tasks'), pairs: arg('--pairs'), base }));
}
