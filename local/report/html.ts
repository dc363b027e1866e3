// The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched at view time) with
// in-flight work per layer against its limit, throughput and progress over time, the latency distribution,
// and the dead-lettered and invalid tasks.

import { isLive, unobservedNote } from './html-ledger.js';
import { barChart, escapeXml, formatNumber, type LineSeries, lineChart } from './svg.js';
import type { AnyRunReport, ReportPeaks, TimelineSample } from './types.js';

export const colors = {
  inline: '#2563eb',
  workers: '#7c3aed',
  sockets: '#0891b2',
  limit: '#dc2626',
  done: '#16a34a',
  failed: '#dc2626',
  queued: '#94a3b8',
  latency: '#0f766e',
} as const;

/** Rows shown per task table; the JSON report keeps them all. */
export const maxTableRows = 500;

const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#1e293b;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#64748b;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#64748b;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.ok{color:#16a34a}.bad{color:#dc2626}.warn{color:#b45309}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
svg.chart{border:1px solid #e2e8f0;border-radius:8px;background:#fff;max-width:100%;height:auto}
.chart-title{font-weight:600;font-size:13px;fill:#1e293b}.tick{font-size:10px;fill:#64748b}.label{font-size:11px;fill:#475569}
.legend{font-size:11px;fill:#334155}.grid{stroke:#f1f5f9}.axis{stroke:#94a3b8}
.series{fill:none;stroke-width:1.8;stroke-linejoin:round}.area{opacity:.12;stroke:none}
.limit{stroke-dasharray:6 4;stroke-width:1.5}.limit-label{font-size:11px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e2e8f0;vertical-align:top}
th{background:#f8fafc}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}
.note{color:#64748b;font-size:12px}
.missing{border:1px dashed #cbd5e1;border-radius:8px;padding:12px 16px;min-height:80px}
`;

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
    ...(report.peaks
      ? [
          peaksTable(report, report.peaks),
          '<h2>Over time</h2>',
          `<div class="charts">${charts(report, report.peaks).join('\n')}</div>`,
        ]
      : [unobservedNote(report)]),
    deadLetteredTable(report),
    unfinishedTable(report),
    invalidTable(report),
    '</body></html>',
  ].join('\n');
}

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

function peaksTable(report: AnyRunReport, peaks: ReportPeaks): string {
  const { limits, target } = report;
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

function series(
  timeline: readonly TimelineSample[],
  name: string,
  color: string,
  pick: (s: TimelineSample) => number,
): LineSeries {
  return { name, color, area: true, points: timeline.map((s) => [s.t / 1000, pick(s)] as const) };
}

/**
 * Tasks ended per second, over a window of about two seconds (or four samples) ending at each sample: counts
 * arrive a worker batch at a time, so a rate between single samples is all spikes.
 */
export function throughput(timeline: readonly TimelineSample[], windowMs = 2_000): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  let from = 0;
  for (let i = 1; i < timeline.length; i++) {
    const b = timeline[i];
    while (from < i - 1 && b.t - timeline[from + 1].t >= windowMs) from++;
    const a = timeline[from];
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    points.push([b.t / 1000, Math.max(0, (b.done + b.failed - a.done - a.failed) / dt)]);
  }
  return points;
}

function charts(report: AnyRunReport, peaks: ReportPeaks): string[] {
  const { timeline, limits } = report;
  const sec = (x: number) => `${formatNumber(Math.round(x * 10) / 10)} s`;
  const layer = (
    id: string,
    title: string,
    color: string,
    pick: (s: TimelineSample) => number,
    limit: number,
  ) =>
    lineChart({
      id,
      title,
      series: [series(timeline, 'in flight', color, pick)],
      limits: [{ label: `limit ${limit}`, value: limit, color: colors.limit }],
      xLabel: 'time',
      yLabel: 'in flight',
      formatX: sec,
    });
  const inlineTitle =
    report.inlineInFlightSource === 'target'
      ? 'Inline tasks in flight (counted by the demo target server)'
      : 'Inline tasks in flight (orchestrator)';
  // A run whose inline tasks all fell between two timeline samples (a short inline phase on a busy machine)
  // has an all-zero series: its peak is shown instead of an empty chart.
  const inlineSampled = timeline.some((s) => s.inlineInFlight > 0);
  const out = [
    report.inlineInFlightSource === 'none' || !inlineSampled
      ? `<div class="missing" id="chart-inline-missing"><b>Inline tasks in flight</b><p class="note">${
          report.inlineInFlightSource === 'none'
            ? 'The local runtime reports only their peak'
            : 'No timeline sample caught one in flight; their peak'
        }: ${peaks.inline} of ${limits.inline}.</p></div>`
      : layer('chart-inline', inlineTitle, colors.inline, (s) => s.inlineInFlight, limits.inline),
    lineChart({
      id: 'chart-workers',
      title: 'Worker invocations in flight',
      series: [series(timeline, 'in flight', colors.workers, (s) => s.workersInFlight)],
      limits: [
        { label: `max concurrency ${limits.workers}`, value: limits.workers, color: colors.limit },
        ...(limits.workersReserved !== undefined && limits.workersReserved !== limits.workers
          ? [
              {
                label: `reserved ${limits.workersReserved}`,
                value: limits.workersReserved,
                color: colors.queued,
              },
            ]
          : []),
      ],
      xLabel: 'time',
      yLabel: 'in flight',
      formatX: sec,
    }),
    layer(
      'chart-sockets',
      'Open sockets to targets',
      colors.sockets,
      (s) => s.socketsInFlight,
      limits.sockets,
    ),
    lineChart({
      id: 'chart-throughput',
      title: 'Throughput (tasks ended per second)',
      series: [{ name: 'tasks / s', color: colors.done, area: true, points: throughput(timeline) }],
      xLabel: 'time',
      yLabel: 'tasks / s',
      formatX: sec,
    }),
    lineChart({
      id: 'chart-progress',
      title: 'Tasks over time',
      series: [
        series(timeline, 'succeeded', colors.done, (s) => s.done),
        series(timeline, 'failed', colors.failed, (s) => s.failed),
        series(timeline, 'queued', colors.queued, (s) => s.queued),
      ],
      xLabel: 'time',
      yLabel: 'tasks',
      formatX: sec,
    }),
  ];
  const latency = latencyChart(report);
  if (latency) out.push(latency);
  return out;
}

function latencyChart(report: AnyRunReport): string | undefined {
  const h = report.latency;
  if (!h || h.count === 0) return undefined;
  const first = h.counts.findIndex((c) => c > 0);
  let last = h.counts.length - 1;
  while (last > first && h.counts[last] === 0) last--;
  const bars = [];
  for (let i = first; i <= last; i++) {
    const label =
      i < h.boundsMs.length
        ? `≤${formatNumber(h.boundsMs[i])}`
        : `>${formatNumber(h.boundsMs[h.boundsMs.length - 1])}`;
    bars.push({ label, value: h.counts[i] });
  }
  return barChart({
    id: 'chart-latency',
    title: `${report.latencySource === 'target' ? 'Response time at the target' : 'Task latency'}, ms: p50 ${h.p50} · p99 ${h.p99} · max ${Math.round(h.maxMs)}`,
    bars,
    color: colors.latency,
    xLabel: 'latency, ms (log buckets)',
    yLabel: 'tasks',
  });
}

function deadLetteredTable(report: AnyRunReport): string {
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
function unfinishedTable(report: AnyRunReport): string {
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

function invalidTable(report: AnyRunReport): string {
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
