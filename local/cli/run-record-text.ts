// A run record as the ledger commands print it: `status` as a short table, `runs` as one line per run, the
// limit overrides as the KEY=VALUE pairs `limits` takes, so what is printed can be typed back.
import type { RunLimits, RunRecord } from '../../lib/ledger/run-record.js';
import { settledCount } from '../../lib/ledger/run-rules.js';

const n = (v: number) => v.toLocaleString('en-US');
const time = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

function table(rows: ReadonlyArray<readonly string[]>, alignRight: readonly boolean[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (alignRight[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** `failed (failure-budget: 12 of 40 failed)`, `running`. */
export function statusLine(record: RunRecord): string {
  if (record.reason === undefined) return record.status;
  return `${record.status} (${record.reason}${record.detail ? `: ${record.detail}` : ''})`;
}

/** The overrides as `limits` takes them: `perInvocationConcurrency=4 downstream.api.example.com.maxConcurrency=2`. */
export function limitPairs(limits: RunLimits | undefined): string[] {
  if (!limits) return [];
  const pairs: string[] = [];
  if (limits.perInvocationConcurrency !== undefined)
    pairs.push(`perInvocationConcurrency=${limits.perInvocationConcurrency}`);
  if (limits.inlineConcurrency !== undefined) pairs.push(`inlineConcurrency=${limits.inlineConcurrency}`);
  for (const [host, hostLimits] of Object.entries(limits.downstream ?? {})) {
    for (const [key, value] of Object.entries(hostLimits)) {
      if (value !== undefined) pairs.push(`downstream.${host}.${key}=${value}`);
    }
  }
  return pairs;
}

export function formatRunStatus(record: RunRecord): string {
  const pending = record.submitted - settledCount(record);
  const counts: Array<[string, string]> = [
    ['submitted', n(record.submitted)],
    ['succeeded', n(record.succeeded)],
    ['dead-lettered', n(record.deadLettered)],
    ['undeliverable', n(record.undeliverable)],
    ['invalid', n(record.invalid)],
    ['cancelled', n(record.cancelled)],
    ['not yet ended', n(pending)],
  ];
  const limits = limitPairs(record.limits);
  const lines = [
    `Run ${record.runId} of job ${record.jobId}: ${statusLine(record)}`,
    `  started   ${time(record.startedAt)}`,
    `  finished  ${time(record.finishedAt)}`,
    `  manifest  ${record.manifestDone ? 'read to its end' : 'still being read'}`,
    `  limits    ${limits.length > 0 ? limits.join(' ') : 'as deployed'}`,
    ...(record.resultUri ? [`  result    ${record.resultUri}`] : []),
    '',
    ...table(counts, [false, true]).map((line) => `  ${line}`),
  ];
  return lines.join('\n');
}

/** One line per run; `withJob` puts each run's job first (status without --job). */
export function formatRunList(records: readonly RunRecord[], withJob = false): string {
  const rows = [
    [
      'JOB',
      'RUN',
      'STATUS',
      'STARTED',
      'FINISHED',
      'SUBMITTED',
      'SUCCEEDED',
      'FAILED',
      'INVALID',
      'CANCELLED',
    ],
    ...records.map((r) => [
      r.jobId,
      r.runId,
      statusLine(r),
      time(r.startedAt),
      time(r.finishedAt),
      n(r.submitted),
      n(r.succeeded),
      n(r.deadLettered + r.undeliverable),
      n(r.invalid),
      n(r.cancelled),
    ]),
  ];
  const shown = withJob ? rows : rows.map((row) => row.slice(1));
  return table(shown, [
    ...(withJob ? [false] : []),
    false,
    false,
    false,
    false,
    true,
    true,
    true,
    true,
    true,
  ]).join('\n');
}
