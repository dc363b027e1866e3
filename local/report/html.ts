// The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched at view time) with
// in-flight work per layer against its limit, throughput and progress over time, the latency distribution,
// and the dead-lettered and invalid tasks.

import { escapeXml } from '../escape-xml.js';
import { charts } from './charts.js';
import { isLive, unobservedNote } from './html-ledger.js';
import { css } from './html-style.js';
import { formatNumber } from './svg.js';
import { deadLetteredTable, invalidTable, unfinishedTable } from './task-tables.js';
import type { AnyRunReport, RunReport } from './types.js';

export { maxTableRows } from './task-tables.js';
export { throughput } from './throughput.js';

export function renderHtmlReport(report: AnyRunReport): string {
  const accounted =
    report.succeeded +
    report.deadLettered +
    report.invalid +
    (report.cancelled ?? 0) +
    (report.undeliverable ?? 0) +
    (report.unfinished ?? 0);
  const title = `bounded-fanout report: ${report.jobId}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeXml(title)}</title><style>${css}</style></head><body>`,
    `<h1>${escapeXml(title)}</h1>`,
    `<p class="sub">${escapeXml(subtitle(report))}</p>`,
    cards(report, accounted),
    // A report built from the job ledger has no local observations: its limits, and a note, instead.
    ...(isObserved(report)
      ? [peaksTable(report), '<h2>Over time</h2>', `<div class="charts">${charts(report).join('\n')}</div>`]
      : [unobservedNote(report)]),
    deadLetteredTable(report),
    unfinishedTable(report),
    invalidTable(report),
    '</body></html>',
  ].join('\n');
}

const isObserved = (report: AnyRunReport): report is RunReport => report.peaks !== undefined;

function subtitle(report: AnyRunReport): string {
  const parts = [`manifest: ${report.manifest ?? 'inline'}`, `duration ${seconds(report.durationMs)}`];
  if (report.startedAt) parts.push(`started ${report.startedAt}`);
  if (report.interrupted) parts.push('interrupted by Ctrl-C: unstarted work was left in the queue');
  return parts.join(' · ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function card(label: string, value: string, cls = ''): string {
  return `<div class="card"><span>${escapeXml(label)}</span><b class="${cls}">${escapeXml(value)}</b></div>`;
}

function cards(report: AnyRunReport, accounted: number): string {
  const rate =
    report.durationMs > 0 ? ((report.succeeded + report.deadLettered) / report.durationMs) * 1000 : 0;
  const list = [
    card('submitted', report.submitted.toLocaleString('en-US')),
    card('succeeded', report.succeeded.toLocaleString('en-US'), 'ok'),
    card('dead-lettered', report.deadLettered.toLocaleString('en-US'), report.deadLettered ? 'bad' : ''),
    card('invalid', report.invalid.toLocaleString('en-US'), report.invalid ? 'warn' : ''),
  ];
  if (report.cancelled) list.push(card('cancelled', report.cancelled.toLocaleString('en-US'), 'warn'));
  if (report.undeliverable) {
    list.push(card('undeliverable', report.undeliverable.toLocaleString('en-US'), 'bad'));
  }
  if (report.unfinished) list.push(card('unfinished', report.unfinished.toLocaleString('en-US'), 'warn'));
  list.push(card('duration', seconds(report.durationMs)), card('tasks / s', formatNumber(Math.round(rate))));
  const balance = isLive(report)
    ? `<p class="warn">The run is ${escapeXml(report.status ?? '')}: ${accounted.toLocaleString('en-US')} of ${report.submitted.toLocaleString('en-US')} submitted tasks have ended so far.</p>`
    : accounted === report.submitted
      ? `<p class="ok">Every task accounted for: ${accounted.toLocaleString('en-US')} of ${report.submitted.toLocaleString('en-US')}.</p>`
      : `<p class="bad">Accounting mismatch: ${accounted.toLocaleString('en-US')} ended of ${report.submitted.toLocaleString('en-US')} submitted.</p>`;
  return `<div class="cards">${list.join('')}</div>${balance}`;
}

function peaksTable(report: RunReport): string {
  const { peaks, limits, target } = report;
  const row = (layer: string, peak: number | undefined, limit: number | undefined, note = '') => {
    if (peak === undefined || limit === undefined) return '';
    const ok = peak <= limit;
    return `<tr><td>${escapeXml(layer)}</td><td class="num">${peak}</td><td class="num">${limit}</td><td class="${ok ? 'ok' : 'bad'}">${ok ? 'within' : 'OVER'}</td><td>${escapeXml(note)}</td></tr>`;
  };
  return [
    '<h2>Peak in flight against each limit</h2>',
    '<table id="peaks"><thead><tr><th>layer</th><th class="num">peak</th><th class="num">limit</th><th></th><th></th></tr></thead><tbody>',
    row('inline tasks (orchestrator)', peaks.inline, limits.inline, 'inlineConcurrency'),
    row(
      'worker invocations from the queue',
      peaks.workers,
      limits.workers,
      "the event source's maximum concurrency",
    ),
    row(
      'worker invocations in all',
      peaks.workersAll,
      limits.workersReserved,
      'reserved concurrency, the hard cap',
    ),
    row(
      'tasks in one worker invocation',
      peaks.perInvocation,
      limits.perInvocation,
      'perInvocationConcurrency',
    ),
    row('sockets, one container', peaks.socketsPerContainer, limits.socketsPerContainer, 'maxSockets'),
    row('sockets, all containers', peaks.sockets, limits.sockets, 'sampled every 250 ms: a lower bound'),
    target
      ? row(
          'connections the target server saw',
          target.peakSockets,
          limits.socketsToOneHost,
          `its own count, against the budget's most for one host; ${target.peakInFlight} requests at once`,
        )
      : '',
    '</tbody></table>',
    `<p class="note">${limits.tasksPerMessage} tasks per message · ${limits.socketsPerHost} sockets per host per container · dead-lettered after ${limits.maxReceiveCount} receives</p>`,
  ].join('\n');
}
