// A 1,000,000-task NDJSON manifest run locally, the way the RSS target of issue 16 is stated: `bounded-fanout run
// --manifest FILE --idempotency off --tasks-per-message 100 --allow-host 127.0.0.1` as a child process against a
// target server in this process, its peak RSS sampled (/proc VmHWM, bench/pipeline.ts runPipeline), and a
// 50,000-task run of the same command before and after it as the tasks/s reference. With `--against DIR` the
// same runs of another checkout's CLI (main, say) alternate with this one's in the same session, so the two
// are compared side by side under the same load: ref A, ref B, big A, big B, ref B, ref A.
// With `--against-first` the other checkout's runs come first (B A B A A B): two sessions, one in each order,
// spread the load's drift over both.
//   npx tsx bench/million.ts [--tasks N] [--ref-tasks N] [--against DIR [--against-first]]
// Not part of `npm run bench` (bench/pipeline.ts already ends with one million-task run): two million-task
// runs take 10 minutes on a quiet machine, far longer on a loaded one.
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetServer } from '../local/demo/target-server.js';
import { fmt, tasksPerSecond } from './alternate.js';
import { type PipelineRun, runPipeline, writeManifest } from './pipeline.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const work = join(root, '.tmp/bench-million');
const FLAGS = ['--tasks-per-message', '100', '--idempotency', 'off'] as const;
const MB = 1e6;
const MIB = 2 ** 20;

interface Side {
  readonly name: string;
  readonly bin: string;
  readonly refs: PipelineRun[];
  big?: PipelineRun;
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

async function once(side: Side, manifest: string, tasks: number): Promise<PipelineRun> {
  const t = new Date().toISOString().slice(11, 19);
  console.error(`[million] ${t} ${side.name}: ${fmt(tasks)} tasks (load ${load()})`);
  const run = await runPipeline(manifest, FLAGS, join(work, `report-${tasks}.json`), { bin: side.bin });
  const r = run.report;
  const accounted = r.succeeded + r.deadLettered + r.invalid === r.submitted && r.submitted === tasks;
  if (!accounted || run.code !== 0) {
    console.error(
      `[million]   NOT ACCOUNTED FOR or failed: exit ${run.code}, ${`status ${r.status} ${r.reason ?? ''}, submitted ${r.submitted}, succeeded ${r.succeeded}, dead-lettered ${r.deadLettered}, invalid ${r.invalid}`}`,
    );
  }
  console.error(
    `[million]   ${fmt(tasksPerSecond(r))} tasks/s, peak RSS ${fmt(run.peakRssBytes / MIB)} MiB, CPU ${fmt(run.cpuSeconds)} s, exit ${run.code}`,
  );
  return run;
}

function row(side: Side, tasks: number): string {
  const big = side.big as PipelineRun;
  const rate = tasksPerSecond(big.report);
  const refs = side.refs.map((r) => tasksPerSecond(r.report));
  const r = big.report;
  const accounted = r.succeeded + r.deadLettered + r.invalid === r.submitted && r.submitted === tasks;
  return [
    `| ${side.name}`,
    `${fmt(rate)}`,
    `${refs.map(fmt).join(' / ')}: ${refs.map((x) => (rate / x).toFixed(2)).join('-')}x`,
    `**${fmt(big.peakRssBytes / MIB)} MiB** (${fmt(big.peakRssBytes / MB)} MB)`,
    `${side.refs.map((x) => fmt(x.peakRssBytes / MIB)).join(' / ')} MiB`,
    `${(r.durationMs / 1000).toFixed(0)} s`,
    `${fmt(big.cpuSeconds)} s (${side.refs.map((x) => fmt(x.cpuSeconds)).join(' / ')} s)`,
    `${accounted ? 'all' : 'NOT'} accounted, exit ${big.code} |`,
  ].join(' | ');
}

export async function run({
  tasks = 1_000_000,
  refTasks = 50_000,
  against,
  againstFirst = false,
}: {
  tasks?: number;
  refTasks?: number;
  against?: string;
  againstFirst?: boolean;
} = {}): Promise<string> {
  await mkdir(work, { recursive: true });
  const target = await TargetServer.start();
  const sides: Side[] = [{ name: 'this checkout', bin: join(root, 'local/cli/bin.mjs'), refs: [] }];
  if (against)
    sides.push({ name: resolve(against), bin: join(resolve(against), 'local/cli/bin.mjs'), refs: [] });
  if (againstFirst) sides.reverse();
  const started = { at: new Date().toISOString().slice(0, 16), load: load() };
  try {
    const ref = join(work, `tasks-${refTasks}.ndjson`);
    const big = join(work, `tasks-${tasks}.ndjson`);
    await writeManifest(ref, refTasks, target.url, 'bench-million-ref');
    await writeManifest(big, tasks, target.url, 'bench-million');
    for (const side of sides) side.refs.push(await once(side, ref, refTasks));
    for (const side of sides) side.big = await once(side, big, tasks);
    for (const side of [...sides].reverse()) side.refs.push(await once(side, ref, refTasks));
  } finally {
    await target.close();
  }
  return [
    `${fmt(tasks)} tasks, \`run ${FLAGS.join(' ')} --allow-host 127.0.0.1\`, one process per run; started ${started.at} UTC at load ${started.load}, ended ${new Date().toISOString().slice(11, 16)} at load ${load()}.`,
    '',
    `| CLI | ${fmt(tasks)}: tasks/s | ${fmt(refTasks)} before / after: tasks/s, ratio | peak RSS | ${fmt(refTasks)}: peak RSS | job | CPU (${fmt(refTasks)}: CPU) | tasks |`,
    '|---|---:|---|---:|---|---:|---|---|',
    ...sides.map((side) => row(side, tasks)),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const number = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
  console.log(
    await run({
      tasks: number('--tasks'),
      refTasks: number('--ref-tasks'),
      against: arg('--against'),
      againstFirst: process.argv.includes('--against-first'),
    }),
  );
}
