import type { JobSummary } from '../lib/fanout/summary.js';
import type { RunRecord } from '../lib/ledger/run-record.js';

/** What one orchestrator invocation did. */
export type OrchestratorResult =
  | {
      readonly status: 'continued';
      readonly jobId: string;
      readonly runId: string;
      readonly segment: number;
      readonly cursor: number;
    }
  | {
      readonly status: 'succeeded' | 'failed' | 'cancelled';
      readonly summary: JobSummary;
      readonly resultKey?: string;
      /** The run's ledger record after this segment settled (with a job table wired). */
      readonly run?: RunRecord;
    }
  | {
      /** The job's previous run was still running and `schedule.overlap` is `forbid`: nothing started. */
      readonly status: 'skipped';
      readonly jobId: string;
      readonly runId: string;
      readonly previousRunId?: string;
    }
  | { readonly status: 'refused'; readonly error: string; readonly field: string }
  | {
      /**
       * The run was broken at an earlier attempt's failure (functions/orchestrator-failure.ts): a segment event
       * delivered after it (a redrive of the orchestrator's DLQ) reads nothing, or the workers' tallies and
       * this segment's own count would both count its tasks.
       */
      readonly status: 'broken';
      readonly jobId: string;
      readonly runId: string;
      readonly segment: number;
    }
  | {
      readonly status: 'duplicate';
      readonly jobId: string;
      readonly runId: string;
      readonly segment: number;
    };
