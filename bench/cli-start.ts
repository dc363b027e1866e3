// The CLI's start from its kept bundle (local/cli/cli-bundle.mjs) against the same CLI from its TypeScript
// sources through the module hooks (BOUNDED_FANOUT_BUNDLE=off), alternated, a fresh process each: `--help`
// (the whole start of a command that does little), and a `run` of 20,000 tasks (packing 25, idempotency off,
// the ledger on): the process's wall time and CPU, and the job's own duration (from the report).
//   npx tsx bench/cli-start.ts [--rounds N] [--tasks N]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle, freshBundle } from '../local/cli/cli-bundle.mjs';
import { TargetServer } from '../local/demo/target-server.js';
import { fmt, median } from './alternate.js';
import { runPipeline, writeManifest } from './pipeline.js';
import { ProcessSampler } from './process-sampler.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const bin = join(root, 'local/cli/bin.mjs');
const work = join(root, '.tmp/bench-cli-start');
const SOURCE = { BOUNDED_FANOUT_BUNDLE: 'off' };

/** One `bounded-fanout --help`: wall ms and CPU seconds of the process. */
async function help(env: NodeJS.ProcessEnv): Promise<{ wallMs: number; cpuSeconds: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, '--help'], {
    stdio: 'ignore',
    env: { ...process.env, ...env },
  });
  const sampler = new ProcessSampler(child.pid ?? 0);
  const [code] = await once(child, 'close');
  const { cpuSeconds } = sampler.stop();
  if (code !== 0) throw new Error(`--help exited ${code}`);
  return { wallMs: performance.now() - t0, cpuSeconds };
}

const cell = (values: number[], digits = 0) =>
  `${median(values).toFixed(digits)} (${values.map((v) => v.toFixed(digits)).join(', ')})`;

export async function run({ rounds = 5, tasks = 20_000 }: { rounds?: number; tasks?: number } = {}) {
  if (!freshBundle() && !(await buildBundle()))
    throw new Error('no bundle: another build holds .tmp/cli/build.lock');
  await mkdir(work, { recursive: true });
  const target = await TargetServer.start();
  const rows: string[] = [];
  try {
    const helps = {
      bundle: { wall: [] as number[], cpu: [] as number[] },
      source: { wall: [] as number[], cpu: [] as number[] },
    };
    for (let i = 0; i < rounds * 2; i++) {
      for (const [name, env] of [
        ['bundle', {}],
        ['source', SOURCE],
      ] as const) {
        const r = await help(env);
        helps[name].wall.push(r.wallMs);
        helps[name].cpu.push(r.cpuSeconds);
      }
    }
    const manifest = join(work, `tasks-${tasks}.ndjson`);
    await writeManifest(manifest, tasks, target.url, 'bench-cli-start');
    const flags = ['--tasks-per-message', '25', '--idempotency', 'off'];
    const runs = {
      bundle: { wall: [] as number[], cpu: [] as number[], job: [] as number[] },
      source: { wall: [] as number[], cpu: [] as number[], job: [] as number[] },
    };
    for (let i = 0; i < rounds; i++) {
      for (const [name, env] of [
        ['bundle', {}],
        ['source', SOURCE],
      ] as const) {
        const r = await runPipeline(manifest, flags, join(work, 'report.json'), { env });
        if (r.report.succeeded !== tasks)
          throw new Error(`${name}: ${r.report.succeeded} of ${tasks} succeeded`);
        runs[name].wall.push(r.wallMs);
        runs[name].cpu.push(r.cpuSeconds);
        runs[name].job.push(r.report.durationMs);
      }
    }
    for (const name of ['bundle', 'source'] as const) {
      const from = name === 'bundle' ? 'the kept bundle' : 'source, through the hooks';
      rows.push(`| \`--help\`, ${from} | ${cell(helps[name].wall)} | ${cell(helps[name].cpu, 2)} | |`);
    }
    for (const name of ['bundle', 'source'] as const) {
      const from = name === 'bundle' ? 'the kept bundle' : 'source, through the hooks';
      rows.push(
        `| \`run\`, ${fmt(tasks)} tasks, ${from} | ${cell(runs[name].wall)} | ${cell(runs[name].cpu, 2)} | ${cell(runs[name].job)} |`,
      );
    }
  } finally {
    await target.close();
  }
  return [
    "## The CLI's start: the kept bundle against the sources (bench/cli-start.ts)",
    '',
    `Alternated, a fresh process each, medians (each run in brackets): \`--help\` ${rounds * 2} times each, \`run\` ${rounds} times each (packing 25, idempotency off, the ledger on; every task succeeded in each).`,
    '',
    "| what | process wall ms | process CPU s | the job's own duration ms |",
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : Number(process.argv[i + 1]);
  };
  console.log(await run({ rounds: arg('--rounds'), tasks: arg('--tasks') }));
}
