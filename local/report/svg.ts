// Small SVG charts drawn as strings, so the HTML report is one self-contained file with nothing to fetch at
// view time. Two kinds: lines over time (with dashed horizontal limit lines) and bars (the latency histogram).
// Every chart is an <svg class="chart"> whose data marks carry data-points, which the render check counts.

import { escapeXml } from '../escape-xml.js';

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** Fill the area under the line (light). */
  readonly area?: boolean;
}

export interface LimitLine {
  readonly label: string;
  readonly value: number;
  readonly color: string;
}

export interface LineChartOptions {
  readonly id: string;
  readonly title: string;
  readonly series: readonly LineSeries[];
  readonly limits?: readonly LimitLine[];
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly width?: number;
  readonly height?: number;
  readonly formatX?: (x: number) => string;
}

export interface Bar {
  readonly label: string;
  readonly value: number;
}

export interface BarChartOptions {
  readonly id: string;
  readonly title: string;
  readonly bars: readonly Bar[];
  readonly color: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly width?: number;
  readonly height?: number;
}

const margin = { top: 30, right: 16, bottom: 42, left: 56 } as const;

/** Round tick values (1, 2, 5 x 10^n) from 0 to at least `max`. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 1e-9; v += step) ticks.push(round(v));
  if (ticks[ticks.length - 1] < max) ticks.push(round(ticks[ticks.length - 1] + step));
  return ticks;
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export function formatNumber(v: number): string {
  if (Math.abs(v) >= 1e6) return `${round(v / 1e6)}M`;
  if (Math.abs(v) >= 1e4) return `${round(v / 1e3)}k`;
  return String(round(v));
}

function frame(id: string, title: string, width: number, height: number, body: string[]): string {
  return [
    `<svg class="chart" id="${escapeXml(id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<text class="chart-title" x="${margin.left}" y="18">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

function axes(
  width: number,
  height: number,
  yTicks: number[],
  y: (v: number) => number,
  xLabel?: string,
  yLabel?: string,
): string[] {
  const out: string[] = [];
  const x0 = margin.left;
  const x1 = width - margin.right;
  for (const tick of yTicks) {
    const ty = y(tick).toFixed(1);
    out.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${ty}" y2="${ty}"/>`);
    out.push(
      `<text class="tick" x="${x0 - 6}" y="${ty}" text-anchor="end" dy="0.32em">${formatNumber(tick)}</text>`,
    );
  }
  out.push(
    `<line class="axis" x1="${x0}" x2="${x1}" y1="${height - margin.bottom}" y2="${height - margin.bottom}"/>`,
  );
  out.push(`<line class="axis" x1="${x0}" x2="${x0}" y1="${margin.top}" y2="${height - margin.bottom}"/>`);
  if (xLabel) {
    out.push(
      `<text class="label" x="${(x0 + x1) / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    );
  }
  if (yLabel) {
    const cy = (margin.top + height - margin.bottom) / 2;
    out.push(
      `<text class="label" transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
    );
  }
  return out;
}

export function lineChart(options: LineChartOptions): string {
  const { id, title, series, limits = [], xLabel, yLabel, width = 560, height = 240 } = options;
  const formatX = options.formatX ?? formatNumber;
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1e-9, ...all.map((p) => p[0]));
  const yMax = Math.max(1, ...all.map((p) => p[1]), ...limits.map((l) => l.value * 1.1));
  const yTicks = niceTicks(yMax);
  const yTop = yTicks[yTicks.length - 1];
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const x = (v: number) => margin.left + (v / xMax) * plotW;
  const y = (v: number) => margin.top + plotH - (v / yTop) * plotH;
  const body = axes(width, height, yTicks, y, xLabel, yLabel);
  for (const tick of niceTicks(xMax, 6)) {
    if (tick > xMax * 1.0001) continue;
    body.push(
      `<text class="tick" x="${x(tick).toFixed(1)}" y="${height - margin.bottom + 14}" text-anchor="middle">${escapeXml(formatX(tick))}</text>`,
    );
  }
  for (const limit of limits) {
    const ly = y(limit.value).toFixed(1);
    body.push(
      `<line class="limit" x1="${margin.left}" x2="${width - margin.right}" y1="${ly}" y2="${ly}" stroke="${limit.color}"/>`,
      `<text class="limit-label" x="${width - margin.right - 4}" y="${ly}" dy="-4" text-anchor="end" fill="${limit.color}">${escapeXml(limit.label)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)} ${y(p[1]).toFixed(1)}`).join('');
    if (s.area && s.points.length > 1) {
      const first = s.points[0];
      const last = s.points[s.points.length - 1];
      const base = y(0).toFixed(1);
      body.push(
        `<path class="area" d="${d}L${x(last[0]).toFixed(1)} ${base}L${x(first[0]).toFixed(1)} ${base}Z" fill="${s.color}"/>`,
      );
    }
    body.push(
      `<path class="series" data-series="${escapeXml(s.name)}" data-points="${s.points.length}" d="${d}" stroke="${s.color}"/>`,
    );
    const ly = margin.top + 2 + i * 14;
    const lx = margin.left + 10;
    body.push(
      `<rect x="${lx}" y="${ly + 4}" width="10" height="3" fill="${s.color}"/>`,
      `<text class="legend" x="${lx + 14}" y="${ly + 9}">${escapeXml(s.name)}</text>`,
    );
  });
  return frame(id, title, width, height, body);
}

export function barChart(options: BarChartOptions): string {
  const { id, title, bars, color, xLabel, yLabel, width = 560, height = 240 } = options;
  const yTicks = niceTicks(Math.max(1, ...bars.map((b) => b.value)));
  const yTop = yTicks[yTicks.length - 1];
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const y = (v: number) => margin.top + plotH - (v / yTop) * plotH;
  const body = axes(width, height, yTicks, y, xLabel, yLabel);
  const slot = plotW / Math.max(1, bars.length);
  const labelEvery = Math.max(1, Math.ceil(bars.length / 10));
  const rects = bars.map((bar, i) => {
    const bx = margin.left + i * slot + 1;
    const by = y(bar.value);
    const h = margin.top + plotH - by;
    return `<rect class="bar" x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${Math.max(1, slot - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeXml(bar.label)}: ${bar.value}</title></rect>`;
  });
  body.push(`<g class="bars" data-points="${bars.filter((b) => b.value > 0).length}">${rects.join('')}</g>`);
  bars.forEach((bar, i) => {
    if (i % labelEvery) return;
    body.push(
      `<text class="tick" x="${(margin.left + i * slot + slot / 2).toFixed(1)}" y="${height - margin.bottom + 14}" text-anchor="middle">${escapeXml(bar.label)}</text>`,
    );
  });
  return frame(id, title, width, height, body);
}
