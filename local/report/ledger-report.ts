// The report of a run built from what it left in the cloud (`bounded-fanout report --job`): its status and
// counts from the job ledger's record, its dead-lettered, undeliverable and invalid tasks from the result
// lines (lib/aws/result-reader.ts), its limits from the deployed config and the run's own overrides. The
// local runtime's observations (peaks, timeline, latency) do not exist for a run in AWS: the report leaves
// them out and says so, rather than draw zeros.
import type { FanoutConfig } from '../../lib/config.js';
import { reservationOf } from '../../lib/config.js';
import type { RunRecord } from '../../lib/ledger/run-record.js';
import { socketLimits } from './assemble.js';
import { type MovedCheck, movedAmong } from './dead-lettered.js';
import { redactReport } from './redact-report.js';
import type { DeadLetteredTask, InvalidTask, LedgerRunReport, ReportLimits } from './types.js';

/** Tasks listed by kind (the counts cover every one); as many as a local run lists. */
export const LEDGER_REPORT_MAX_LISTED = 1_000;

export interface LedgerReportInputs {
  readonly record: RunRecord;
  readonly lines: AsyncIterable<Record<string, unknown>>;
  /** The deployed config (cdk.json's), which the run's limit overrides can only lower. */
  readonly config: FanoutConfig;
  /** Where the lines came from, for the report's `manifest`/runtime note. */
  readonly source: string;
  readonly maxListed?: number;
  /**
   * Whether a task left `deadLettered` (redriven, it ended another way): the result object, written when the
   * run ended, still has its first failure. Without it every failed line is listed.
   */
  readonly moved?: MovedCheck;
}

export async function ledgerReport(inputs: LedgerReportInputs): Promise<LedgerRunReport> {
  const { record, config } = inputs;
  const max = inputs.maxListed ?? LEDGER_REPORT_MAX_LISTED;
  const tasks = await collectTasks(
    inputs.lines,
    max,
    inputs.moved,
    record.deadLettered + record.undeliverable,
  );
  const finishedAt = record.finishedAt;
  return redactReport({
    jobId: record.jobId,
    runId: record.runId,
    status: record.status,
    ...(record.reason ? { reason: record.reason } : {}),
    submitted: record.submitted,
    invalid: record.invalid,
    succeeded: record.succeeded,
    deadLettered: record.deadLettered,
    cancelled: record.cancelled,
    undeliverable: record.undeliverable,
    // A live run's duration so far; the ledger keeps epoch milliseconds.
    durationMs: Math.max(0, (finishedAt ?? Date.now()) - record.startedAt),
    limits: limitsOf(record, config),
    invalidTasks: tasks.invalid,
    deadLetteredTasks: tasks.deadLettered,
    timeline: [],
    startedAt: new Date(record.startedAt).toISOString(),
    runtime: {
      source: 'ledger',
      resultLines: inputs.source,
      manifestDone: record.manifestDone,
      ...(record.detail ? { detail: record.detail } : {}),
      ...(record.resultUri ? { resultUri: record.resultUri } : {}),
      ...(tasks.beyond > 0 ? { notListed: tasks.beyond } : {}),
      ...(record.limits ? { limitOverrides: record.limits } : {}),
    },
  });
}

interface CollectedTasks {
  readonly deadLettered: DeadLetteredTask[];
  readonly invalid: InvalidTask[];
  /**
   * Tasks not listed: invalid lines past `max`, and, once the failed list is full, the failed tasks the
   * ledger counts (`failedCount`) less those listed. Not the failed lines past `max`: a task's lines repeat
   * (a redrive's undeliverable line after the object's), and one past `max` is not checked for a move.
   */
  beyond: number;
}

async function collectTasks(
  lines: AsyncIterable<Record<string, unknown>>,
  max: number,
  moved: MovedCheck | undefined,
  failedCount: number,
): Promise<CollectedTasks> {
  const failed = new FailedTasks(max, moved);
  const invalid: InvalidTask[] = [];
  let beyond = 0;
  for await (const line of lines) {
    if (line.type === 'dead-letter' || line.type === 'undeliverable') {
      await failed.add(deadLetteredOf(line), line.type);
    } else if (line.type === 'invalid') {
      if (invalid.length < max) invalid.push(invalidOf(line));
      else beyond++;
    }
  }
  await failed.flush();
  const deadLettered = failed.tasks();
  const unlisted = failed.full ? Math.max(0, failedCount - deadLettered.length) : 0;
  return { deadLettered, invalid, beyond: beyond + unlisted };
}

type FailedLine = 'dead-letter' | 'undeliverable';

/**
 * The failed tasks of the lines, each task once at its first line's place with its last line's error (a
 * task's lines repeat: a redriven task that fails again adds one), less those the ledger says moved out of
 * failing: a redriven task that now succeeded or was cancelled. One that moved to `undeliverable` failed still
 * and stays, with the error of its last line (the redrive's). A move whose marker does not say where it went
 * (written before markers said) is judged by the task's last line: `undeliverable` stays; such a task, not
 * judged until every line is in, does not take one of the `max` places meanwhile. The move checks are reads,
 * made a few at once for the lines that would be listed, never for those past `max`.
 */
class FailedTasks {
  readonly #listed = new Map<string, DeadLetteredTask>();
  /** A failed line found no place: the list is full. */
  full = false;
  /** Tasks listed whose move does not say where it went (in #unknown): not counted against `max`. */
  #undecided = 0;
  /** Tasks that moved out of failing. */
  readonly #left = new Set<string>();
  /** Tasks listed whose move does not say where it went: their last line's kind. */
  readonly #unknown = new Map<string, FailedLine>();
  readonly #checked = new Set<string>();
  #pending: { task: DeadLetteredTask; type: FailedLine }[] = [];

  constructor(
    private readonly max: number,
    private readonly check: MovedCheck | undefined,
  ) {}

  async add(task: DeadLetteredTask, type: FailedLine): Promise<void> {
    this.#pending.push({ task, type });
    if (this.#pending.length >= PENDING_LINES) await this.flush();
  }

  async flush(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    if (this.check && this.#room()) await this.#checkMoves(pending.map((p) => p.task.id));
    for (const { task, type } of pending) {
      if (this.#left.has(task.id)) continue;
      const undecided = this.#unknown.has(task.id);
      if (undecided) this.#unknown.set(task.id, type);
      if (this.#listed.has(task.id)) this.#listed.set(task.id, task);
      else if (this.#room()) {
        this.#listed.set(task.id, task);
        if (undecided) this.#undecided++;
      } else this.full = true;
    }
  }

  /** The tasks to list, once every line is in: at most `max`. */
  tasks(): DeadLetteredTask[] {
    const failed = [...this.#listed.values()].filter((t) => this.#unknown.get(t.id) !== 'dead-letter');
    if (failed.length > this.max) this.full = true;
    return failed.slice(0, this.max);
  }

  /** Whether a task not listed yet may be: the listed tasks already judged failed are fewer than `max`. */
  #room(): boolean {
    return this.#listed.size - this.#undecided < this.max;
  }

  async #checkMoves(ids: readonly string[]): Promise<void> {
    const fresh = [...new Set(ids)].filter((id) => !this.#checked.has(id));
    for (const id of fresh) this.#checked.add(id);
    if (!this.check || fresh.length === 0) return;
    for (const [id, as] of await movedAmong(fresh, this.check)) {
      if (as === 'unknown') this.#unknown.set(id, 'dead-letter');
      else if (as !== 'undeliverable') this.#left.add(id);
    }
  }
}

/** Failed lines checked together. */
const PENDING_LINES = 32;

function deadLetteredOf(line: Record<string, unknown>): DeadLetteredTask {
  const task = isObject(line.task) ? line.task : undefined;
  const sendError = typeof line.sendError === 'string' ? `; not delivered to the DLQ: ${line.sendError}` : '';
  return {
    id: typeof task?.id === 'string' ? task.id : '(no id)',
    attempts: typeof line.attempts === 'number' ? line.attempts : 0,
    error: `${typeof line.error === 'string' ? line.error : 'unknown error'}${sendError}`,
    ...(task ? { task } : {}),
  };
}

function invalidOf(line: Record<string, unknown>): InvalidTask {
  return {
    ...(typeof line.id === 'string' ? { id: line.id } : {}),
    ...(typeof line.line === 'number' ? { line: line.line } : {}),
    error: typeof line.error === 'string' ? line.error : 'invalid',
  };
}

/** The deployed limits, lowered by the run's overrides (as the functions apply them). */
function limitsOf(record: RunRecord, config: FanoutConfig): ReportLimits {
  const sockets = socketLimits(config);
  const o = record.limits;
  return {
    inline: Math.min(config.inlineConcurrency, o?.inlineConcurrency ?? Number.POSITIVE_INFINITY),
    workers: config.workerMaxConcurrency,
    workersReserved: reservationOf(config.workerReservedConcurrency),
    sockets: sockets.all,
    perInvocation: Math.min(
      config.perInvocationConcurrency,
      o?.perInvocationConcurrency ?? Number.POSITIVE_INFINITY,
    ),
    socketsPerContainer: config.maxSockets,
    socketsPerHost: config.maxSocketsPerHost,
    socketsToOneHost: sockets.toOneHost,
    tasksPerMessage: config.tasksPerMessage,
    maxReceiveCount: config.maxReceiveCount,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
