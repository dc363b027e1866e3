// The job ledger's share of the plan's cost: DynamoDB request units on the job table and the Run Finished
// event. Counts follow the JobLedger port (lib/ledger/job-ledger.ts): one settle per SQS message and per
// orchestrator segment, never per task; a few writes per run; the record cached per worker container; a running
// segment's heartbeat.
// Priced for tasks that succeed: a message with failed tasks keeps its follow-up plan on its marker (over
// 1 KB only with many failures), and one with dead letters settles a second time (functions/worker-follow-ups.ts).
import { awsPrices } from './prices.js';

const MILLION = 1_000_000;
/** A transactional write costs 2 write units per item of up to 1 KB (a run record and a marker are smaller). */
const TRANSACT_UNITS_PER_ITEM = 2;
/** One settle: a TransactWriteItems of the counts' UpdateItem and the key's marker PutItem. */
export const SETTLE_WRITE_UNITS = 2 * TRANSACT_UNITS_PER_ITEM;
/** The record read back after a settle, strongly consistent: 1 read unit (up to 4 KB). */
export const SETTLE_READ_UNITS = 1;
/**
 * startRun: a 2-item transaction (the run and the job's overlap guard); finish and announcedAt: one update each;
 * and the run's origin, for a manifest read from S3 (functions/run-origin.ts): priced for every run.
 */
export const RUN_WRITE_UNITS = 2 * TRANSACT_UNITS_PER_ITEM + 2 + 1;
/** startRun's Query for the job's latest run. */
export const RUN_READ_UNITS = 1;
/** A worker container reads its run's record at most once per this many seconds. */
export const RECORD_CACHE_SECONDS = 2;
/** A running orchestrator segment's heartbeat (functions/segment-heartbeat.ts): a PutItem under 1 KB per beat. */
export const BEAT_WRITE_UNITS = 1;

export interface LedgerCost {
  /** Runs per million queued tasks: one per job of the plan's `tasks`. */
  readonly runs: number;
  readonly messages: number;
  readonly segments: number;
  /** Worker container-seconds busy, each reading the record at most once per RECORD_CACHE_SECONDS. */
  readonly workerBusySeconds: number;
  /** Orchestrator seconds busy, each segment beating every `heartbeatMs`, and once as it starts. */
  readonly orchestratorBusySeconds: number;
  readonly heartbeatMs: number;
  readonly beats: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  /** Run Finished events, one per run (well under 64 KB: one billed event each). */
  readonly events: number;
  readonly writeUsd: number;
  readonly readUsd: number;
  readonly eventsUsd: number;
  readonly usd: number;
}

export function ledgerCost(job: {
  readonly runs: number;
  readonly messages: number;
  readonly segments: number;
  readonly workerBusySeconds: number;
  readonly orchestratorBusySeconds: number;
  readonly heartbeatMs: number;
}): LedgerCost {
  const { dynamodb, eventbridge } = awsPrices;
  const settles = job.messages + job.segments;
  const beats = job.segments + Math.floor((job.orchestratorBusySeconds * 1000) / job.heartbeatMs);
  const writeUnits = settles * SETTLE_WRITE_UNITS + job.runs * RUN_WRITE_UNITS + beats * BEAT_WRITE_UNITS;
  const readUnits =
    settles * SETTLE_READ_UNITS + job.runs * RUN_READ_UNITS + job.workerBusySeconds / RECORD_CACHE_SECONDS;
  const writeUsd = (writeUnits * dynamodb.usdPerMillionWriteUnits) / MILLION;
  const readUsd = (readUnits * dynamodb.usdPerMillionReadUnits) / MILLION;
  const eventsUsd = (job.runs * eventbridge.usdPerMillionEvents) / MILLION;
  const usd = writeUsd + readUsd + eventsUsd;
  return { ...job, beats, writeUnits, readUnits, events: job.runs, writeUsd, readUsd, eventsUsd, usd };
}
