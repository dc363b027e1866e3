// The local pipeline end to end: orchestrator -> SQS emulator -> poller -> worker -> HTTP to a loopback server,
// each run a fresh `bounded-fanout run` process (so one contender's garbage never lands on the next), against a
// target server in this process that answers at once, and against the ceiling: a plain undici `request` loop at
// the pipeline's peak in-flight count on the same server (bench/ceiling.ts, its own process), in the same run.
//   1. Raw emulator rate in the same run: SendMessageBatch, then ReceiveMessage + DeleteMessageBatch (10 a call).
//   2. Packing 25 with idempotency off (the pipeline's own cost), the ceiling, packing 25 with per-message
//      idempotency, packing 100 with idempotency off, alternated A B C D A B C D ..., medians; then the default
//      per-task idempotency (two DynamoDB writes a task, ~100x slower) alternated with the ceiling on fewer tasks.
//   3. A 1,000,000-task NDJSON manifest end to end at 100 tasks per message: every task accounted for, tasks/s
//      against the 50,000-task runs at the same packing, peak RSS of the process.
// Targets, as ratios to the ceiling: idempotency off >= 0.6x, per message >= 0.4x, per task >= 0.1x; the million
// at >= 0.9x the tasks/s of the 50,000-task run, peak RSS <= 400 MB.
//   npx tsx bench/pipeline.ts [--tasks N] [--million N] [--idempotent-tasks N] [--rounds N]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { runBounded } from '../lib/run-bounded.js';
import { buildBundle, bundleOff, freshBundle } from '../local/cli/cli-bundle.mjs';
import { TargetServer } from '../local/demo/target-server.js';
import { startEmulators } from '../local/emulators.js';
import type { RunReport } from '../local/report/types.js';
import { alternate, type Contender, fmt, median, tasksPerSecond } from './alternate.js';
import { runCeiling } from './ceiling.js';
import { ProcessSampler } from './process-sampler.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const bin = join(root, 'local/cli/bin.mjs');
const work = join(root, '.tmp/bench-pipeline');

/** SendMessageBatch all, then receive + delete all, 8 calls in flight each way; messages of ~160 bytes. */
export async function rawEmulatorRate(
  messages: number,
): Promise<{ sendPerS: number; receiveDeletePerS: number; roundTripPerS: number }> {
  const emulators = await startEmulators();
  const sqs = new SQSClient({
    endpoint: emulators.endpoints.sqs,
    region: emulators.region,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench-raw' }));
    const body = JSON.stringify({
      jobId: 'bench',
      tasks: [{ id: 'x', url: 'http://127.0.0.1:1/task/x' }],
    }).padEnd(160);
    const t0 = performance.now();
    await runBounded(
      Array.from({ length: Math.ceil(messages / 10) }, (_, i) => i),
      (i) =>
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl,
            Entries: Array.from({ length: Math.min(10, messages - i * 10) }, (_, j) => ({
              Id: String(j),
              MessageBody: body,
            })),
          }),
        ),
      { concurrency: 8, stopOnError: true },
    );
    const t1 = performance.now();
    let received = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (received < messages) {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl,
              MaxNumberOfMessages: 10,
              VisibilityTimeout: 60,
              WaitTimeSeconds: 0,
            }),
          );
          if (Messages.length === 0) continue;
          received += Messages.length;
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl,
              Entries: Messages.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle ?? '' })),
            }),
          );
        }
      }),
    );
    const t2 = performance.now();
    return {
      sendPerS: (messages * 1000) / (t1 - t0),
      receiveDeletePerS: (messages * 1000) / (t2 - t1),
      roundTripPerS: (messages * 1000) / (t2 - t0),
    };
  } finally {
    sqs.destroy();
    await emulators.stop();
  }
}

/** An NDJSON manifest of `tasks` queue tasks against `origin`, written as a stream. */
export async function writeManifest(
  file: string,
  tasks: number,
  origin: string,
  jobId: string,
): Promise<void> {
  const out = createWriteStream(file);
  const write = async (line: string) => {
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(`${JSON.stringify({ jobId })}\n`);
  for (let i = 0; i < tasks; i++) await write(`{"id":"t${i}","url":"${origin}/task/t${i}"}\n`);
  out.end();
  await once(out, 'finish');
}

export interface PipelineRun {
  readonly report: RunReport;
  readonly code: number | null;
  /** Peak resident set of the CLI process (its /proc VmHWM), in bytes. */
  readonly peakRssBytes: number;
  /** CPU (user + system) of the CLI process, from /proc/PID/stat, last read at most 50 ms before it exited. */
  readonly cpuSeconds: number;
  readonly wallMs: number;
}

/** One `bounded-fanout run` process (this checkout's, or another's `bin`); reads its JSON report. */
export async function runPipeline(
  manifest: string,
  flags: readonly string[],
  reportFile: string,
  { bin: cli = bin, env = {} }: { bin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<PipelineRun> {
  // A report left by an earlier run must never be read as this run's.
  await rm(reportFile, { force: true });
  // This checkout's CLI starts from its kept bundle, as a user's does after the first run: built now if stale,
  // so no run of a rotation is from source while a background build runs.
  if (cli === bin && !bundleOff({ ...process.env, ...env }) && !freshBundle()) await buildBundle();
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [cli, 'run', '--manifest', manifest, '--allow-host', '127.0.0.1', '--report', reportFile, ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env, BOUNDED_FANOUT_PROGRESS: 'off' } },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const sampler = new ProcessSampler(child.pid ?? 0);
  const [code] = (await once(child, 'close')) as [number | null];
  const { peakRssBytes, cpuSeconds } = sampler.stop();
  const wallMs = performance.now() - t0;
  if (code !== 0 && code !== 1) throw new Error(`bounded-fanout run exited ${code}:\n${stderr}`);
  let report: RunReport;
  try {
    report = JSON.parse(await readFile(reportFile, 'utf8')) as RunReport;
  } catch {
    throw new Error(`bounded-fanout run exited ${code} without a report:\n${stderr.slice(-2000)}`);
  }
  return { report, code, peakRssBytes, cpuSeconds, wallMs };
}

const OFF_25 = 'packing 25 tasks/message, idempotency off';
const OFF_100 = 'packing 100 tasks/message, idempotency off';
const MESSAGE_25 = 'packing 25, per-message idempotency (`--idempotency message`)';
const TASK_25 = 'packing 25, per-task idempotency (the default)';
const CEILING = 'ceiling: plain undici `request` loop';

/** The ceiling as a contender: at the in-flight count of the last run of `like` (160 before it has run). */
const ceiling = (origin: string, tasks: number, like: string, inFlight: Map<string, number>): Contender => ({
  name: CEILING,
  flags: [],
  measure: async (last) => {
    const n = last.get(like)?.report.peaks.sockets || 160;
    inFlight.set(like, n);
    return (await runCeiling(origin, tasks, n)).tasksPerS;
  },
});

const ratio = (rates: Map<string, number[]>, a: string, b: string) =>
  (median(rates.get(a) ?? [0]) / median(rates.get(b) ?? [1])).toFixed(2);

const rows = (rates: Map<string, number[]>, last: Map<string, PipelineRun>, tasks: number) =>
  [...rates].map(([name, values]) => {
    const p = last.get(name)?.report.peaks;
    return `| ${name}, ${fmt(tasks)} tasks | ${fmt(median(values))} | ${values.map(fmt).join(', ')} | ${p ? `${p.inline} / ${p.workers} / ${p.sockets}` : ''} |`;
  });

export async function run({
  tasks = 50_000,
  million = 1_000_000,
  idempotentTasks = 5_000,
  rounds = 3,
}: {
  tasks?: number;
  million?: number;
  idempotentTasks?: number;
  rounds?: number;
} = {}): Promise<string> {
  await mkdir(work, { recursive: true });
  const raw = await rawEmulatorRate(20_000);
  const target = await TargetServer.start();
  const inFlight = new Map<string, number>();
  try {
    const manifest = join(work, `tasks-${tasks}.ndjson`);
    await writeManifest(manifest, tasks, target.url, 'bench-packing');
    const main = await alternate(
      [
        { name: OFF_25, flags: ['--tasks-per-message', '25', '--idempotency', 'off'] },
        ceiling(target.url, tasks, OFF_25, inFlight),
        { name: MESSAGE_25, flags: ['--tasks-per-message', '25', '--idempotency', 'message'] },
        { name: OFF_100, flags: ['--tasks-per-message', '100', '--idempotency', 'off'] },
      ],
      { manifest, tasks, rounds, reportFile: join(work, 'packing.json'), label: 'pipeline' },
    );
    // Per-task idempotency is ~100x slower: its own, shorter alternation against the ceiling on as many tasks.
    const idempotentFile = join(work, `tasks-${idempotentTasks}.ndjson`);
    await writeManifest(idempotentFile, idempotentTasks, target.url, 'bench-idempotent');
    const perTask = await alternate(
      [
        { name: TASK_25, flags: ['--tasks-per-message', '25'] },
        ceiling(target.url, idempotentTasks, TASK_25, inFlight),
      ],
      {
        manifest: idempotentFile,
        tasks: idempotentTasks,
        rounds: 2,
        reportFile: join(work, 'idempotent.json'),
        label: 'pipeline',
      },
    );
    const millionFile = join(work, `tasks-${million}.ndjson`);
    await writeManifest(millionFile, million, target.url, 'bench-million');
    const big = await runPipeline(
      millionFile,
      ['--tasks-per-message', '100', '--idempotency', 'off'],
      join(work, 'million.json'),
    );
    const r = big.report;
    const accounted = r.succeeded + r.deadLettered + r.invalid === r.submitted && r.submitted === million;
    const bigRate = tasksPerSecond(r);
    return [
      '## Local pipeline (bench/pipeline.ts)',
      '',
      `Orchestrator -> fauxqs SQS -> local poller -> worker -> HTTP to a loopback target server (local/demo/target-server.ts, in the bench's process), one \`bounded-fanout run\` process per run, against the ceiling: a plain undici \`request\` loop (bench/ceiling.ts, its own process) at the pipeline's peak sockets (${[...inFlight.values()].join(' / ')}) against the same server, the same task paths. Contenders alternated (A B C D A B C D ...), medians of ${rounds}; per-task idempotency (~100x slower) in its own alternation with the ceiling on ${fmt(idempotentTasks)} tasks, 2 rounds. Default limits otherwise (10 workers, 16 tasks at once per invocation, 64 sockets per container). Tasks/s is the job's own duration (submitted / durationMs), process start-up excluded.`,
      '',
      '| contender | tasks/s (median) | runs | peak inline / workers / sockets |',
      '|---|---:|---|---|',
      ...rows(main.rates, main.last, tasks),
      ...rows(perTask.rates, perTask.last, idempotentTasks),
      `| emulator raw: SendMessageBatch | ${fmt(raw.sendPerS)} msg/s | | |`,
      `| emulator raw: Receive + DeleteMessageBatch | ${fmt(raw.receiveDeletePerS)} msg/s | | |`,
      `| emulator raw: send + receive + delete | ${fmt(raw.roundTripPerS)} msg/s | | |`,
      '',
      'Ratios to the ceiling, measured side by side in this run:',
      '',
      `- packing 25, idempotency off: **${ratio(main.rates, OFF_25, CEILING)}x** (target >= 0.6x)`,
      `- packing 25, per-message idempotency: **${ratio(main.rates, MESSAGE_25, CEILING)}x** (target >= 0.4x)`,
      `- packing 25, per-task idempotency: **${ratio(perTask.rates, TASK_25, CEILING)}x** (target >= 0.1x)`,
      `- packing 100, idempotency off: ${ratio(main.rates, OFF_100, CEILING)}x`,
      '',
      `One ${fmt(million)}-task NDJSON manifest end to end (100 tasks per message, idempotency off): ${accounted ? 'every task accounted for' : 'NOT ACCOUNTED FOR'} (submitted ${fmt(r.submitted)} = succeeded ${fmt(r.succeeded)} + dead-lettered ${fmt(r.deadLettered)} + invalid ${fmt(r.invalid)}), job ${(r.durationMs / 1000).toFixed(1)} s (process ${(big.wallMs / 1000).toFixed(1)} s), ${fmt(bigRate)} tasks/s: **${(bigRate / median(main.rates.get(OFF_100) ?? [1])).toFixed(2)}x** the ${fmt(tasks)}-task runs at the same packing (target >= 0.9x), peak RSS **${fmt(big.peakRssBytes / 2 ** 20)} MiB** (target <= 400 MB).`,
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
  console.log(
    await run({
      tasks: arg('--tasks'),
      million: arg('--million'),
      idempotentTasks: arg('--idempotent-tasks'),
      rounds: arg('--rounds'),
    }),
  );
}
