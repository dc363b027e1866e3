// The run command's report: assembled from what the runtime counted and what the CLI watched, written to each
// --report file, and printed as the summary (or JSON); the exit code says how the job went.
import type { FanoutConfig } from '../../../lib/config.js';
import { assembleReport } from '../../report/assemble.js';
import type { RunReport } from '../../report/types.js';
import { accountingError, writeReports } from '../../report/write.js';
import type { LocalJobReport } from '../../run-local-job.js';
import type { RunArgs } from '../args.js';
import { ExitCodes, exitCodeFor } from '../exit-code.js';
import type { Interrupts } from '../interrupts.js';
import type { CliIo } from '../io.js';
import type { JobSource } from '../job-source.js';
import type { LiveProgress } from '../live-progress.js';
import { formatSummary } from '../summary.js';
import { withManifestLines } from '../task-lines.js';

export interface ReportParts {
  readonly local: LocalJobReport;
  readonly config: FanoutConfig;
  readonly timeline: ReturnType<typeof finalTimeline>;
  readonly source: JobSource;
  readonly args: RunArgs;
  readonly startedAt: Date;
  readonly signals: Interrupts;
  readonly live: LiveProgress;
  readonly resumedFrom?: string;
}

/** The run's report: what the runtime counted, the timeline, the demo target's own counts, manifest lines. */
export async function reportOf({
  local,
  config,
  timeline,
  source,
  args,
  startedAt,
  signals,
  live,
  resumedFrom,
}: ReportParts): Promise<RunReport> {
  const target = source.demo?.server.stats();
  const assembled = assembleReport({
    local,
    config,
    timeline,
    manifest: source.label,
    ...(source.manifestFile ? { manifestFile: source.manifestFile } : {}),
    ...(source.manifestSha256 ? { manifestSha256: source.manifestSha256 } : {}),
    startedAt,
    ...(resumedFrom ? { resumedFrom } : {}),
    interrupted: signals.stopSignal.aborted,
    inlineInFlightSource: live.inlineSource,
    // Every attempt's response time as the functions saw it (local/http-observer.ts).
    latency: local.latency,
    latencySource: 'tasks' as const,
    ...(source.demo
      ? {
          target: {
            peakSockets: target?.peakSockets ?? 0,
            peakInFlight: target?.peakInFlight ?? 0,
            requests: target?.requests ?? 0,
          },
        }
      : {}),
  });
  // Lines are known for a manifest file given as such (a retry's or the demo's file is a temporary one).
  const report = args.manifest && source.file ? await withManifestLines(assembled, source.file) : assembled;
  return report;
}

/** The timeline ends on the exact final counts (the live ones come from metrics as they are written). */
export function finalTimeline(
  samples: RunReport['timeline'],
  local: { succeeded: number; deadLettered: number },
): RunReport['timeline'] {
  if (samples.length === 0) return samples;
  const last = samples[samples.length - 1];
  return [...samples.slice(0, -1), { ...last, done: local.succeeded, failed: local.deadLettered, queued: 0 }];
}

/** Writes the reports and prints the summary; the exit code says how the job went and whether each report was written. */
export async function finishRun(
  io: CliIo,
  args: RunArgs,
  report: RunReport,
  local: LocalJobReport,
): Promise<number> {
  // Each report on its own: one that fails keeps neither the others nor the summary from being written.
  const failed = await writeReports(args.reports, report);
  const written = args.reports.filter((file) => !failed.some((f) => f.file === file));
  printOutcome(io, args, report, written, local.error);
  for (const { error } of failed) io.stderr.write(`bounded-fanout: ${error.message}\n`);
  const code =
    // A job that broke, or whose counts do not add up, did not do its work: never exit 0 on it.
    local.status === 'broken' || accountingError(report) ? ExitCodes.TASKS_FAILED : exitCodeFor({ report });
  return failed.length > 0 && code !== ExitCodes.INTERRUPTED ? ExitCodes.REPORT_NOT_WRITTEN : code;
}

function printOutcome(
  io: CliIo,
  args: RunArgs,
  report: RunReport,
  reportFiles: readonly string[],
  runtimeError?: string,
): void {
  if (runtimeError) io.stderr.write(`bounded-fanout: the job did not run to its end: ${runtimeError}\n`);
  if (args.format === 'json') io.stdout.write(`${JSON.stringify(report)}\n`);
  else io.stdout.write(`\n${formatSummary(report, { reportFiles })}`);
}
