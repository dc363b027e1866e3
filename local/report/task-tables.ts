// The report's task tables: dead-lettered, unfinished and invalid tasks, each cut at maxTableRows (the JSON
// report keeps them all).
import { escapeXml } from '../escape-xml.js';
import type { AnyRunReport } from './types.js';

/** Rows shown per task table; the JSON report keeps them all. */
export const maxTableRows = 500;

export function deadLetteredTable(report: AnyRunReport): string {
  const rows = report.deadLetteredTasks
    .slice(0, maxTableRows)
    .map(
      (t) =>
        `<tr><td><code>${escapeXml(t.id)}</code></td><td class="num">${t.attempts}</td><td>${escapeXml(t.error)}</td></tr>`,
    );
  return [
    `<h2>Dead-lettered tasks (${report.deadLetteredTasks.length.toLocaleString('en-US')})</h2>`,
    rows.length
      ? `<table id="dead-lettered"><thead><tr><th>task id</th><th class="num">attempts</th><th>last error</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
      : '<p class="ok">None.</p>',
    more(report.deadLetteredTasks.length),
  ].join('\n');
}

/** Only when the run left tasks unfinished (a stop or a cut-off). */
export function unfinishedTable(report: AnyRunReport): string {
  const tasks = report.unfinishedTasks ?? [];
  if (tasks.length === 0) return '';
  const rows = tasks
    .slice(0, maxTableRows)
    .map(
      (t) =>
        `<tr><td class="num">${t.line ?? ''}</td><td><code>${escapeXml(t.id)}</code></td><td>${escapeXml(t.error)}</td></tr>`,
    );
  return [
    `<h2>Unfinished tasks (${tasks.length.toLocaleString('en-US')})</h2>`,
    `<table id="unfinished"><thead><tr><th class="num">line</th><th>task id</th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    more(tasks.length),
  ].join('\n');
}

export function invalidTable(report: AnyRunReport): string {
  const rows = report.invalidTasks
    .slice(0, maxTableRows)
    .map(
      (t) =>
        `<tr><td class="num">${t.line ?? ''}</td><td><code>${escapeXml(t.id ?? '')}</code></td><td>${escapeXml(t.error)}</td></tr>`,
    );
  return [
    `<h2>Invalid tasks (${report.invalidTasks.length.toLocaleString('en-US')})</h2>`,
    rows.length
      ? `<table id="invalid"><thead><tr><th class="num">line</th><th>task id</th><th>error</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
      : '<p class="ok">None.</p>',
    more(report.invalidTasks.length),
  ].join('\n');
}

function more(total: number): string {
  return total > maxTableRows
    ? `<p class="note">First ${maxTableRows} of ${total.toLocaleString('en-US')} shown; the JSON report lists them all.</p>`
    : '';
}
