// The table printed at the end of a run: counts that add up, peaks against limits, and the first few
// dead-lettered, unfinished and invalid tasks (the report lists them all).
import { displayMs } from '../report/latency.js';
import type { RunReport } from '../report/types.js';
import { accountingError } from '../report/write.js';

const n = (v: number) => v.toLocaleString('en-US');
const shown = 5;

function table(rows: ReadonlyArray<readonly string[]>, alignRight: readonly boolean[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (alignRight[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

export function formatSummary(
  report: RunReport,
  { reportFiles = [] }: { reportFiles?: readonly string[] } = {},
): string {
  const out: string[] = [...headline(report), ''];
  const counts: Array<[string, string]> = [
    ['submitted', n(report.submitted)],
    ['succeeded', n(report.succeeded)],
    ['dead-lettered', n(report.deadLettered)],
    ['invalid', n(report.invalid)],
  ];
  if (report.undeliverable) counts.push(['undeliverable', n(report.undeliverable)]);
  if (report.cancelled) counts.push(['cancelled', n(report.cancelled)]);
  if (report.unfinished) counts.push(['unfinished', n(report.unfinished)]);
  out.push(...table(counts, [false, true]).map((l) => `  ${l}`));
  const mismatch = accountingError(report);
  out.push(mismatch ? `  ACCOUNTING MISMATCH: ${mismatch}` : '  every task accounted for', '');
  out.push(...peakLines(report));
  if (report.latency && report.latency.count > 0) {
    const h = report.latency;
    out.push(
      '',
      `  ${report.latencySource === 'target' ? 'response time at the target' : 'latency'}: p50 ${displayMs(h.p50)} ms, p90 ${displayMs(h.p90)} ms, p99 ${displayMs(h.p99)} ms, max ${displayMs(h.maxMs)} ms`,
    );
  }
  out.push(...taskLists(report));
  const unfinished = report.unfinishedTasks ?? [];
  if (reportFiles.length) out.push('', `Report: ${reportFiles.join(', ')}`);
  const json = reportFiles.find((f) => f.toLowerCase().endsWith('.json'));
  if (json && (report.deadLettered > 0 || unfinished.length > 0)) {
    out.push(`Run the dead-lettered and unfinished tasks again: bounded-fanout run --retry-from ${json}`);
  }
  return `${out.join('\n')}\n`;
}

/** The run's verdict, and what a resume or a cut-off means for its counts. */
function headline(report: RunReport): string[] {
  const seconds = (report.durationMs / 1000).toFixed(1);
  const rate =
    report.durationMs > 0
      ? Math.round(((report.succeeded + report.deadLettered) / report.durationMs) * 1000)
      : 0;
  const out: string[] = [];
  // The orchestrator's own verdict: a manifest that broke mid-read fails the job whatever the counts say.
  const runtime = report.runtime as
    | { status?: string; reason?: string; detail?: string; error?: string }
    | undefined;
  // The ledger's own words first (a broken segment, the budget's figures), else the orchestrator's error.
  const why = runtime?.detail ?? runtime?.error;
  out.push(
    report.interrupted
      ? `Job ${report.jobId} interrupted after ${seconds} s: unstarted work was left in the queue.`
      : report.status === 'cancelled'
        ? `Job ${report.jobId} CANCELLED after ${seconds} s${report.reason ? ` (${report.reason})` : ''}: the tasks not started then are counted cancelled.`
        : runtime?.status === 'failed' && why
          ? `Job ${report.jobId} FAILED after ${seconds} s (${runtime.reason ?? 'error'}): ${oneLine(why)}`
          : `Job ${report.jobId} finished in ${seconds} s (${n(rate)} tasks/s).`,
  );
  if (report.resumed) {
    const { tasks, startedAt, idempotency, settled, reread } = report.resumed;
    // Killed inside orchestrator segments: the resume read them again, their inline and invoke tasks run again.
    const again = reread
      ? `, the ${n(reread.inline)} inline task(s)${reread.invoked ? ` and ${n(reread.invoked)} invoke task(s)` : ''} of the ${n(reread.segments)} orchestrator segment(s) the kill cut short, read again, among them`
      : '';
    out.push(
      `Resumed the run started ${startedAt} (the counts cover both processes): ${n(tasks)} task(s) in flight or queued at the kill were put back and could have run twice${again}${idempotency === 'task' ? ' (none that had completed did: task idempotency)' : ''}${settled ? `; ${n(settled)} message(s) settled before the kill ran none of their tasks again` : ''}.`,
    );
  }
  if (report.cutOff)
    out.push('Cut off: tasks running then count as unfinished, even those whose requests had completed.');
  return out;
}

/** The peaks against their limits, a row for each pair the report has. */
function peakLines(report: RunReport): string[] {
  const { peaks, limits } = report;
  const peakRows: string[][] = [['in flight at once', 'peak', 'limit']];
  const add = (label: string, peak: number | undefined, limit: number | undefined) => {
    if (peak !== undefined && limit !== undefined) peakRows.push([label, String(peak), String(limit)]);
  };
  add('inline tasks (orchestrator)', peaks.inline, limits.inline);
  add('worker invocations (queue)', peaks.workers, limits.workers);
  add('worker invocations (all)', peaks.workersAll, limits.workersReserved);
  add('tasks in one invocation', peaks.perInvocation, limits.perInvocation);
  add('sockets, one container', peaks.socketsPerContainer, limits.socketsPerContainer);
  add('sockets, all containers', peaks.sockets, limits.sockets);
  if (report.target) add('connections at the target', report.target.peakSockets, limits.socketsToOneHost);
  const lines = table(peakRows, [false, true, true]).map((l) => `  ${l}`);
  const live = limits.changedLive;
  if (live) {
    const reserved = live.workersReserved === undefined ? 'none' : String(live.workersReserved);
    lines.push(
      `  changed during the run (limits): at the end the event source's maximum was ${live.workers} and the worker's reserved concurrency ${reserved}; the limits above are the deployed ones, the peaks the whole run's`,
    );
  }
  return lines;
}

/** The first few dead-lettered, unfinished and invalid tasks (the report lists them all). */
function taskLists(report: RunReport): string[] {
  const out: string[] = [];
  if (report.deadLetteredTasks.length) {
    out.push('', `Dead-lettered (${n(report.deadLetteredTasks.length)}):`);
    for (const t of report.deadLetteredTasks.slice(0, shown)) {
      out.push(
        `  ${idText(t.id)}  after ${t.attempts} attempt${t.attempts === 1 ? '' : 's'}: ${oneLine(t.error)}`,
      );
    }
    if (report.deadLetteredTasks.length > shown)
      out.push(`  ... and ${n(report.deadLetteredTasks.length - shown)} more`);
  }
  const unfinished = report.unfinishedTasks ?? [];
  if (unfinished.length) {
    out.push('', `Unfinished (${n(unfinished.length)}):`);
    for (const t of unfinished.slice(0, shown)) {
      out.push(`  ${t.line === undefined ? '' : `line ${t.line} `}${idText(t.id)}: ${oneLine(t.error)}`);
    }
    if (unfinished.length > shown) out.push(`  ... and ${n(unfinished.length - shown)} more`);
  }
  if (report.invalidTasks.length) {
    out.push('', `Invalid (${n(report.invalidTasks.length)}):`);
    for (const t of report.invalidTasks.slice(0, shown)) {
      const where = [t.line === undefined ? '' : `line ${t.line}`, idText(t.id ?? '')]
        .filter(Boolean)
        .join(' ');
      out.push(`  ${where || '?'}: ${oneLine(t.error)}`);
    }
    if (report.invalidTasks.length > shown)
      out.push(`  ... and ${n(report.invalidTasks.length - shown)} more`);
  }
  return out;
}

function oneLine(text: string): string {
  const flat = printable(text).replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}

// C0 and C1 control characters but the blanks oneLine flattens: an escape sequence in a task id or an error
// (a hostile manifest's) would recolour the terminal or draw a fake line of the summary.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is escaped
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/** `text` as a terminal may show it: each control character as its `\u` escape. */
function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A task id on one line of the summary: controls escaped, and a line break too. */
const idText = (id: string): string =>
  printable(id).replace(/[\r\n\t]/g, (c) => JSON.stringify(c).slice(1, -1));

/** What is known when a second Ctrl-C cuts the run off: the counts so far, from the functions' metrics. */
export function formatAbortSummary({
  elapsedMs,
  done,
  failed,
  total,
  embedded,
}: {
  elapsedMs: number;
  done: number;
  failed: number;
  total?: number;
  embedded: boolean;
}): string {
  const rows: Array<[string, string]> = [
    ['succeeded so far', n(done)],
    ['failed so far', n(failed)],
  ];
  if (total !== undefined) rows.push(['submitted', n(total)]);
  return [
    `Aborted after ${(elapsedMs / 1000).toFixed(1)} s: the process ended at once.`,
    embedded
      ? 'Unstarted work was in the embedded queue, which ends with this process: run again to do it.'
      : 'Unstarted work stays in the queue; in-flight messages reappear there after their visibility timeout.',
    '',
    ...table(rows, [false, true]).map((l) => `  ${l}`),
    '',
    'No report written: the run did not end.',
    '',
  ].join('\n');
}
