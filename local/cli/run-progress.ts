// A run's live progress: the counts (live-progress.ts), the display on stderr (progress.ts) against the limits
// that apply (progress-limits.ts: the job header's, read from the manifest's object as the orchestrator reads it,
// then the run's overrides, followed while it runs: run-limits-follower.ts, and the event source's concurrency as
// the runtime's samples give it), and the timeline sampled from the
// counts for the report.
import { type FanoutConfig, resourceNames } from '../../lib/config.js';
import type { RunLimits } from '../../lib/ledger/run-record.js';
import type { JobHeader } from '../../lib/manifest/schema.js';
import { jobHeaderOf } from '../report/job-limits.js';
import { TimelineSampler } from '../report/timeline.js';
import type { LocalProgress } from '../run-local-job.js';
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
  /** The runtime's onProgress: the live counts, and the display's worker limit as the event source has it. */
  readonly onProgress: (progress: LocalProgress) => void;
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
  // The limits shown follow the run's overrides (its record) and the event source's concurrency (the poller's).
  let overrides: RunLimits | undefined;
  let workers = config.workerMaxConcurrency;
  const show = () => display.setLimits(progressLimits(config, header?.limits, overrides, workers));
  const follower =
    header && inputs.args.ledger
      ? followerOf(inputs, header, (limits) => {
          overrides = limits;
          show();
        })
      : undefined;
  const onProgress = (progress: LocalProgress) => {
    live.onProgress(progress);
    if (progress.eventSourceMaxConcurrency === workers) return;
    workers = progress.eventSourceMaxConcurrency;
    show();
  };
  return { live, onProgress, display, sampler, ...(follower ? { follower } : {}) };
}

function followerOf(
  { config, backend }: ProgressInputs,
  header: JobHeader,
  onLimits: (overrides: RunLimits | undefined) => void,
): RunLimitsFollower {
  return new RunLimitsFollower({
    target: backend.info,
    tableName: resourceNames(config).jobTable,
    retentionDays: config.resultsRetentionDays,
    jobId: header.jobId,
    ...(header.runId ? { runId: header.runId } : {}),
    onLimits,
  });
}
