// The ceiling for bench/pipeline.ts: what this machine does with nothing but HTTP. A plain undici `request` loop,
// `concurrency` requests in flight over as many sockets, GET <url>/task/t<i> for i < tasks (the same paths the
// pipeline's manifest names) against the same target server, in a process of its own like each pipeline run.
// As a script it prints one JSON line { tasks, ok, durationMs, tasksPerS }; runCeiling() spawns it.
//   npx tsx bench/ceiling.ts --url http://127.0.0.1:PORT --tasks 50000 --concurrency 160
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

export interface CeilingRun {
  readonly tasks: number;
  readonly ok: number;
  readonly durationMs: number;
  readonly tasksPerS: number;
}

/** `tasks` GETs, `concurrency` at once over as many sockets; times the loop alone (not the process start). */
export async function ceilingLoop(origin: string, tasks: number, concurrency: number): Promise<CeilingRun> {
  const dispatcher = new Agent({ connections: concurrency });
  let next = 0;
  let ok = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks) {
        const { statusCode, body } = await request(`${origin}/task/t${next++}`, { dispatcher });
        await body.text();
        if (statusCode === 200) ok++;
      }
    }),
  );
  const durationMs = performance.now() - t0;
  await dispatcher.close();
  return { tasks, ok, durationMs, tasksPerS: (tasks * 1000) / durationMs };
}

/** The loop in a fresh node process (as each pipeline run is), so its garbage and JIT state are its own. */
export async function runCeiling(origin: string, tasks: number, concurrency: number): Promise<CeilingRun> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--url',
      origin,
      '--tasks',
      String(tasks),
      '--concurrency',
      String(concurrency),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`bench/ceiling.ts exited ${code}:\n${err.slice(-2000)}`);
  const result = JSON.parse(out) as CeilingRun;
  if (result.ok !== tasks) throw new Error(`ceiling: ${result.ok} of ${tasks} answered 200`);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, tasks: { type: 'string' }, concurrency: { type: 'string' } },
  });
  const origin = values.url ?? '';
  const tasks = Number(values.tasks);
  const concurrency = Number(values.concurrency);
  if (!origin.startsWith('http://')) throw new Error(`--url must be an http:// origin, got ${origin}`);
  if (!Number.isInteger(tasks) || tasks < 1)
    throw new Error(`--tasks must be a positive integer: ${values.tasks}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`--concurrency must be a positive integer: ${values.concurrency}`);
  }
  console.log(JSON.stringify(await ceilingLoop(origin, tasks, concurrency)));
}
