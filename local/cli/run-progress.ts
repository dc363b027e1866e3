// A run's live progress: the counts (live-progress.ts), the display on stderr (progress.ts) against the limits
// that apply (progress-limits.ts: the job header's, read from the manifest's object as the orchestrator reads it,
// then the run's overrides, followed while it runs: run-limits-follower.ts), and the timeline sampled from the
// counts for the report.
import { type FanoutConfig, resourceNames } from '../../lib/config.js';
import type { JobHeader } from '../../lib/manifest/schema.js';
import { jobHeaderOf } from '../report/job-limits.js';
import { TimelineSampler } from '../report/timeline.js';
import type { RunArgs } from './args.js';
import type { CliIo } from './io.js';
import type { JobSource } from './job-source.js';
import { LiveProgress } from './live-progress.js';
import type { CliBackend } from './local-backend.js';
import { ProgressDisplay, progressModeFor } from './progress.js';
import { progressLimits } from './progress-limits.js';
import { RunLimitsFollower } from './run-limits-follower.js';

export interface Progress {
  readonly live: LiveProgress;
  readonly display: ProgressDisplay;
  readonly sampler: TimelineSampler;
  /** Reads the run's overrides while it runs (none with `--ledger off`): started and stopped with the sampler. */
  readonly follower?: RunLimitsFollower;
}

export interface ProgressInputs {
  readonly config: FanoutConfig;
  readonly source: JobSource;
  readonly io: CliIo;
  readonly backend: CliBackend;
  /** The manifest's s3:// URI, as the orchestrator is invoked with it. */
  readonly uri: string;
  /** `--ledger off` leaves the run without a record to follow. */
  readonly args: Pick<RunArgs, 'ledger'>;
}

export async function progressOf(inputs: ProgressInputs): Promise<Progress> {
  const { config, source, io } = inputs;
  const header = await jobHeaderOf({ manifest: inputs.uri }, inputs.backend.info);
  const demoServer = source.demo?.server;
  const live = new LiveProgress({
    // The queue's depth in messages times the tasks in each: the job's own packing when its header sets one.
    tasksPerMessage: header?.limits?.tasksPerMessage ?? config.tasksPerMessage,
    ...(demoServer ? { inlineFallback: () => demoServer.inFlightOf('inline') } : {}),
  });
  const display = new ProgressDisplay({
    view: {
      jobId: source.label,
      limits: progressLimits(config, header?.limits, undefined),
      total: source.total,
    },
    mode: progressModeFor({ isTTY: io.stderrIsTTY, env: io.env }),
    stream: io.stderr,
  });
  const sampler = new TimelineSampler({ probe: () => live.snapshot(), onSample: (s) => display.update(s) });
  const follower =
    header && inputs.args.ledger
      ? followerOf(inputs, header, (limits) => display.setLimits(limits))
      : undefined;
  return { live, display, sampler, ...(follower ? { follower } : {}) };
}

function followerOf(
  { config, backend }: ProgressInputs,
  header: JobHeader,
  show: (limits: ReturnType<typeof progressLimits>) => void,
): RunLimitsFollower {
  return new RunLimitsFollower({
    target: backend.info,
    tableName: resourceNames(config).jobTable,
    retentionDays: config.resultsRetentionDays,
    jobId: header.jobId,
    ...(header.runId ? { runId: header.runId } : {}),
    onLimits: (overrides) => show(progressLimits(config, header.limits, overrides)),
  });
}
