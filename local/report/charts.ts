// The report's charts over time: in flight per layer against its limit, throughput, progress, and the latency
// distribution.
import { colors } from './html-style.js';
import { displayMs } from './latency.js';
import { barChart, formatNumber, type LineSeries, lineChart } from './svg.js';
import { throughput } from './throughput.js';
import type { RunReport, TimelineSample } from './types.js';

export function charts(report: RunReport): string[] {
  const { timeline, limits } = report;
  const out = [
    inlineChart(report),
    workersChart(report),
    layerChart(
      timeline,
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

const sec = (x: number) => `${formatNumber(Math.round(x * 10) / 10)} s`;

/** One layer's work in flight over time against its limit. */
function layerChart(
  timeline: readonly TimelineSample[],
  id: string,
  title: string,
  color: string,
  pick: (s: TimelineSample) => number,
  limit: number,
): string {
  return lineChart({
    id,
    title,
    series: [series(timeline, 'in flight', color, pick)],
    limits: [{ label: `limit ${limit}`, value: limit, color: colors.limit }],
    xLabel: 'time',
    yLabel: 'in flight',
    formatX: sec,
  });
}

function inlineChart(report: RunReport): string {
  const { timeline, limits } = report;
  const inlineTitle =
    report.inlineInFlightSource === 'target'
      ? 'Inline tasks in flight (counted by the demo target server)'
      : 'Inline tasks in flight (orchestrator)';
  // A run whose inline tasks all fell between two timeline samples (a short inline phase on a busy machine)
  // has an all-zero series: its peak is shown instead of an empty chart.
  const inlineSampled = timeline.some((s) => s.inlineInFlight > 0);
  if (report.inlineInFlightSource !== 'none' && inlineSampled) {
    return layerChart(
      timeline,
      'chart-inline',
      inlineTitle,
      colors.inline,
      (s) => s.inlineInFlight,
      limits.inline,
    );
  }
  return `<div class="missing" id="chart-inline-missing"><b>Inline tasks in flight</b><p class="note">${
    report.inlineInFlightSource === 'none'
      ? 'The local runtime reports only their peak'
      : 'No timeline sample caught one in flight; their peak'
  }: ${report.peaks.inline} of ${limits.inline}.</p></div>`;
}

/** Worker invocations against the poller's maximum concurrency, and the reservation when it differs. */
function workersChart(report: RunReport): string {
  const { timeline, limits } = report;
  return lineChart({
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
  });
}

function series(
  timeline: readonly TimelineSample[],
  name: string,
  color: string,
  pick: (s: TimelineSample) => number,
): LineSeries {
  return { name, color, area: true, points: timeline.map((s) => [s.t / 1000, pick(s)] as const) };
}

function latencyChart(report: RunReport): string | undefined {
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
    title: `${report.latencySource === 'target' ? 'Response time at the target' : 'Task latency'}, ms: p50 ${displayMs(h.p50)} · p99 ${displayMs(h.p99)} · max ${displayMs(h.maxMs)}`,
    bars,
    color: colors.latency,
    xLabel: 'latency, ms (log buckets)',
    yLabel: 'tasks',
  });
}
