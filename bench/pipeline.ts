// The local pipeline end to end: orchestrator -> SQS emulator -> poller -> worker -> HTTP to a loopback server,
// each run a fresh `bounded-fanout run` process (so one contender's garbage never lands on the next), against a
// target server in this process that answers at once.
//   1. Raw emulator rate in the same run: SendMessageBatch, then ReceiveMessage + DeleteMessageBatch (10 a call).
//   2. Tasks per second with packing at 100 tasks per message, at the default 25, off (1), and at 25 without
//      the job ledger (`--ledger off`), alternated A B C D A B C D A B C D, medians, with idempotency off (the pipeline's own cost), and once with the default
//      per-task idempotency for reference (two dynalite writes per task). Runs are long enough (50,000 tasks)
//      that the job's start (containers, first receive) and end (drain checks) do not dominate.
//   3. A 1,000,000-task NDJSON manifest end to end at 100 tasks per message: every task accounted for,
//      duration, peak RSS of the process.
// Targets: >= 20,000 tasks/s with packing; the million within 120 s at peak RSS <= 400 MB.
//   npx tsx bench/pipeline.ts [--tasks N] [--million N]
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
import { TargetServer } from '../local/demo/target-server.js';
import { startEmulators } from '../local/emulators.js';
import type { RunReport } from '../local/report/types.js';
import { alternate, fmt, median, tasksPerSecond } from './alternate.js';

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
  readonly wallMs: number;
}

/** One `bounded-fanout run` process; reads its JSON report. */
export async function runPipeline(
  manifest: string,
  flags: readonly string[],
  reportFile: string,
): Promise<PipelineRun> {
  // A report left by an earlier run must never be read as this run's.
  await rm(reportFile, { force: true });
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [bin, 'run', '--manifest', manifest, '--allow-host', '127.0.0.1', '--report', reportFile, ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BOUNDED_FANOUT_PROGRESS: 'off' } },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let peakRssBytes = 0;
  const sampler = setInterval(async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      if (kb * 1024 > peakRssBytes) peakRssBytes = kb * 1024;
    } catch {
      // The process has just exited: its last reading stands.
    }
  }, 50);
  const [code] = (await once(child, 'close')) as [number | null];
  clearInterval(sampler);
  const wallMs = performance.now() - t0;
  if (code !== 0 && code !== 1) throw new Error(`bounded-fanout run exited ${code}:\n${stderr}`);
  let report: RunReport;
  try {
    report = JSON.parse(await readFile(reportFile, 'utf8')) as RunReport;
  } catch {
    throw new Error(`bounded-fanout run exited ${code} without a report:\n${stderr.slice(-2000)}`);
  }
  return { report, code, peakRssBytes, wallMs };
}

export async function run({
  tasks = 50_000,
  million = 1_000_000,
  idempotentTasks = 5_000,
}: {
  tasks?: number;
  million?: number;
  idempotentTasks?: number;
} = {}): Promise<string> {
  await mkdir(work, { recursive: true });
  const raw = await rawEmulatorRate(20_000);
  const target = await TargetServer.start();
  try {
    const manifest = join(work, `tasks-${tasks}.ndjson`);
    await writeManifest(manifest, tasks, target.url, 'bench-packing');
    const contenders = [
      {
        name: 'packing on (100 tasks/message)',
        flags: ['--tasks-per-message', '100', '--idempotency', 'off'],
      },
      {
        name: 'packing on (25 tasks/message, the default)',
        flags: ['--tasks-per-message', '25', '--idempotency', 'off'],
      },
      { name: 'packing off (1 task/message)', flags: ['--tasks-per-message', '1', '--idempotency', 'off'] },
      {
        name: 'packing on (25 tasks/message), no job ledger',
        flags: ['--tasks-per-message', '25', '--idempotency', 'off', '--ledger', 'off'],
      },
    ];
    const { rates, last } = await alternate(contenders, {
      manifest,
      tasks,
      rounds: 3,
      reportFile: join(work, 'packing.json'),
      label: 'pipeline',
    });
    const peaks = new Map([...last].map(([name, r]) => [name, r.report.peaks]));
    const idempotentFile = join(work, `tasks-${idempotentTasks}.ndjson`);
    await writeManifest(idempotentFile, idempotentTasks, target.url, 'bench-idempotent');
    const idempotent = await runPipeline(
      idempotentFile,
      ['--tasks-per-message', '25'],
      join(work, 'idempotent.json'),
    );
    console.error(`pipeline: per-task idempotency: ${fmt(tasksPerSecond(idempotent.report))} tasks/s`);
    const millionFile = join(work, `tasks-${million}.ndjson`);
    await writeManifest(millionFile, million, target.url, 'bench-million');
    const big = await runPipeline(
      millionFile,
      ['--tasks-per-message', '100', '--idempotency', 'off'],
      join(work, 'million.json'),
    );
    const r = big.report;
    const accounted = r.succeeded + r.deadLettered + r.invalid === r.submitted && r.submitted === million;
    const lines = [
      '## Local pipeline (bench/pipeline.ts)',
      '',
      `Orchestrator -> fauxqs SQS -> local poller -> worker -> HTTP to a loopback server, one \`bounded-fanout run\` process per run, ${fmt(tasks)} queued tasks a run with idempotency off (\`--idempotency off\`: the pipeline's own cost), A B C A B C A B C, medians of 3; default limits otherwise (10 workers, 16 tasks at once per invocation, 64 sockets per container). Tasks/s is the job's own duration (submitted / durationMs), process start-up excluded. The local runtime holds the orchestrator's sends while the work queue holds about 50,000 tasks (local/queue-backlog.ts), so the backlog stays bounded in memory.`,
      '',
      '| contender | tasks/s (median) | runs | peak inline / workers / sockets |',
      '|---|---:|---|---|',
      ...contenders.map((c) => {
        const values = rates.get(c.name) ?? [];
        const p = peaks.get(c.name);
        return `| ${c.name} | ${fmt(median(values))} | ${values.map(fmt).join(', ')} | ${p ? `${p.inline} / ${p.workers} / ${p.sockets}` : ''} |`;
      }),
      `| packing on, per-task idempotency (the default: 2 dynalite writes a task), ${fmt(idempotentTasks)} tasks | ${fmt(tasksPerSecond(idempotent.report))} | 1 run | ${idempotent.report.peaks.inline} / ${idempotent.report.peaks.workers} / ${idempotent.report.peaks.sockets} |`,
      `| emulator raw: SendMessageBatch | ${fmt(raw.sendPerS)} msg/s | | |`,
      `| emulator raw: Receive + DeleteMessageBatch | ${fmt(raw.receiveDeletePerS)} msg/s | | |`,
      `| emulator raw: send + receive + delete | ${fmt(raw.roundTripPerS)} msg/s | | |`,
      '',
      `The job ledger's cost: packing 25 with the ledger (one transactional write per message, one per segment, a run record read per worker container every 2 s) at ${(median(rates.get(contenders[1].name) ?? [0]) / median(rates.get(contenders[3].name) ?? [1])).toFixed(2)}x the same run without it (\`--ledger off\`). Target: >= 0.9x.`,
      '',
      `Packing on vs the emulator's raw round trip: ${(median(rates.get(contenders[0].name) ?? [0]) / raw.roundTripPerS).toFixed(1)}x (tasks/s over messages/s). Target: >= 20,000 tasks/s with packing.`,
      '',
      `One ${fmt(million)}-task NDJSON manifest end to end (100 tasks per message, idempotency off): ${accounted ? 'every task accounted for' : 'NOT ACCOUNTED FOR'} (submitted ${fmt(r.submitted)} = succeeded ${fmt(r.succeeded)} + dead-lettered ${fmt(r.deadLettered)} + invalid ${fmt(r.invalid)}), job ${(r.durationMs / 1000).toFixed(1)} s (process ${(big.wallMs / 1000).toFixed(1)} s), ${fmt(tasksPerSecond(r))} tasks/s, peak RSS ${fmt(big.peakRssBytes / 2 ** 20)} MiB. Targets: within 120 s, peak RSS <= 400 MB.`,
    ];
    return lines.join('\n');
  } finally {
    await target.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  console.log(await run({ tasks: arg('--tasks'), million: arg('--million') }));
}
