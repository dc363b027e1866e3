// The job ledger's cost: `bounded-fanout run` with the ledger (a DynamoDB job table on dynalite behind the
// local DynamoDB front; settled per SQS message, grouped while a run's transaction is in flight, read back
// only when the settle may have ended the run; a run record read per container every 2 s)
// against the same run with `--ledger off`, side by side in one run: pairs alternated (on off on off ...), a
// fresh process each run, medians. Packing at the default 25 tasks per message, idempotency off (so the
// difference is the ledger's alone). Target: ledger on >= 0.9x ledger off.
//   npx tsx bench/ledger.ts [--tasks N] [--pairs N]
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetServer } from '../local/demo/target-server.js';
import { alternate, fmt, median } from './alternate.js';
import { writeManifest } from './pipeline.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const work = join(root, '.tmp/bench-ledger');
const FLAGS = ['--tasks-per-message', '25', '--idempotency', 'off'];
const CONTENDERS = [
  { name: 'ledger on', flags: FLAGS },
  { name: 'ledger off', flags: [...FLAGS, '--ledger', 'off'] },
];

export async function run({ tasks = 20_000, pairs = 5 }: { tasks?: number; pairs?: number } = {}) {
  await mkdir(work, { recursive: true });
  const target = await TargetServer.start();
  try {
    const manifest = join(work, `tasks-${tasks}.ndjson`);
    await writeManifest(manifest, tasks, target.url, 'bench-ledger');
    const { rates } = await alternate(CONTENDERS, {
      manifest,
      tasks,
      rounds: pairs,
      reportFile: join(work, 'report.json'),
      label: 'ledger',
    });
    const on = rates.get('ledger on') ?? [];
    const off = rates.get('ledger off') ?? [];
    const ratio = median(on) / median(off);
    return [
      '## The job ledger on vs off (bench/ledger.ts)',
      '',
      `\`bounded-fanout run\`, ${fmt(tasks)} queued tasks a run at 25 tasks per message, idempotency off, the ledger on and \`--ledger off\` alternated in ${pairs} pairs (a fresh process each run), medians; tasks/s is submitted / the job's own duration.`,
      '',
      '| contender | tasks/s (median) | runs |',
      '|---|---:|---|',
      `| ledger on | ${fmt(median(on))} | ${on.map(fmt).join(', ')} |`,
      `| ledger off | ${fmt(median(off))} | ${off.map(fmt).join(', ')} |`,
      '',
      `Ledger on at ${ratio.toFixed(2)}x ledger off. Target: >= 0.9x.`,
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
  console.log(await run({ tasks: arg('--tasks'), pairs: arg('--pairs') }));
}
