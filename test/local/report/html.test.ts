import { describe, expect, it } from 'vitest';
import { maxTableRows, renderHtmlReport, throughput } from '../../../local/report/html.js';
import { niceTicks } from '../../../local/report/svg.js';
import { fixtureReport } from './fixture.js';

function charts(html: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const svg of html.split('<svg class="chart"').slice(1)) {
    const id = /id="([^"]+)"/.exec(svg)?.[1] ?? '?';
    const body = svg.slice(0, svg.indexOf('</svg>'));
    const marks = [...body.matchAll(/data-points="(\d+)"/g)].reduce((a, m) => a + Number(m[1]), 0);
    out.set(id, marks);
  }
  return out;
}

describe('renderHtmlReport', () => {
  it('draws every chart with data, each layer against its limit', () => {
    const report = fixtureReport();
    const html = renderHtmlReport(report);
    const found = charts(html);
    expect([...found.keys()]).toEqual([
      'chart-inline',
      'chart-workers',
      'chart-sockets',
      'chart-throughput',
      'chart-progress',
      'chart-latency',
    ]);
    // The fixture has 41 samples: one point each per layer, 40 intervals of throughput, three progress
    // series (done, failed, queued) and the latency chart's 18 bars.
    expect(Object.fromEntries(found)).toEqual({
      'chart-inline': 41,
      'chart-workers': 41,
      'chart-sockets': 41,
      'chart-throughput': 40,
      'chart-progress': 3 * 41,
      'chart-latency': 18,
    });
    expect(html).toContain('limit 8');
    expect(html).toContain('max concurrency 4');
    expect(html).toContain('limit 16');
    expect(html).toContain('Every task accounted for: 1,023 of 1,023.');
  });

  it('is self-contained: no script, no external reference', () => {
    const html = renderHtmlReport(fixtureReport());
    expect(html).not.toMatch(/<script|<link|@import|src=|href=/i);
    // The only URL is the SVG namespace.
    expect(html.match(/https?:\/\/[^"\s]+/g)?.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
  });

  it('escapes what the tasks say', () => {
    const html = renderHtmlReport(fixtureReport());
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('HTTP 404 &#38; &#60;gone&#62;');
  });

  it('lists the dead-lettered and invalid tasks, capping long tables', () => {
    const small = renderHtmlReport(fixtureReport());
    expect(small.match(/<tr><td><code>task-/g)).toHaveLength(20);
    const many = Array.from({ length: maxTableRows + 7 }, (_, i) => ({
      id: `t${i}`,
      attempts: 5,
      error: 'HTTP 500',
    }));
    const big = renderHtmlReport(fixtureReport({ deadLetteredTasks: many }));
    expect(big.match(/<tr><td><code>t\d+/g)).toHaveLength(maxTableRows);
    expect(big).toContain(`First ${maxTableRows} of ${many.length}`);
  });

  it('lists the unfinished tasks with their lines, and no such table when there are none', () => {
    expect(renderHtmlReport(fixtureReport())).not.toContain('id="unfinished"');
    const unfinishedTasks = [
      { id: 'u<1>', line: 4, error: 'not read: the orchestrator had not reached it when the run stopped' },
    ];
    const html = renderHtmlReport(
      fixtureReport({ interrupted: true, unfinished: 1, unfinishedTasks, submitted: 1024 }),
    );
    expect(html).toContain('<h2>Unfinished tasks (1)</h2>');
    expect(html).toContain(
      '<tr><td class="num">4</td><td><code>u&#60;1&#62;</code></td><td>not read: the orchestrator had not reached it when the run stopped</td></tr>',
    );
  });

  it('names where the inline series and the latencies were counted, and leaves out a series nobody counted', () => {
    const fromTarget = renderHtmlReport(
      fixtureReport({ inlineInFlightSource: 'target', latencySource: 'target' }),
    );
    expect(fromTarget).toContain('Inline tasks in flight (counted by the demo target server)');
    expect(fromTarget).toContain('Response time at the target, ms: p50');
    const none = renderHtmlReport(fixtureReport({ inlineInFlightSource: 'none' }));
    expect(charts(none).has('chart-inline')).toBe(false);
    expect(none).toContain('The local runtime reports only their peak: 8 of 8.');
    // Every sample fell outside the inline phase: the peak as a note, not an all-zero chart.
    const base = fixtureReport({ inlineInFlightSource: 'runtime' });
    const missed = renderHtmlReport({
      ...base,
      timeline: base.timeline.map((sample) => ({ ...sample, inlineInFlight: 0 })),
    });
    expect(charts(missed).has('chart-inline')).toBe(false);
    expect(missed).toContain('No timeline sample caught one in flight; their peak: 8 of 8.');
  });

  it('says so when the counts do not add up, and leaves out a latency chart it has no data for', () => {
    const html = renderHtmlReport(fixtureReport({ succeeded: 999, latency: undefined }));
    expect(html).toContain('Accounting mismatch: 1,022 ended of 1,023 submitted.');
    expect(charts(html).has('chart-latency')).toBe(false);
  });
});

describe('chart helpers', () => {
  it('computes throughput over a window ending at each sample', () => {
    const base = { inlineInFlight: 0, workersInFlight: 0, socketsInFlight: 0, queued: 0, failed: 0 };
    const done = [0, 50, 50, 150, 150, 250];
    const timeline = done.map((d, i) => ({ ...base, t: i * 500, done: d }));
    expect(throughput(timeline, 1000)).toEqual([
      [0.5, 100],
      [1, 50],
      [1.5, 100],
      [2, 100],
      [2.5, 100],
    ]);
    // Failed tasks count as ended too; samples at the same time add no point.
    expect(
      throughput([
        { ...base, t: 0, done: 0 },
        { ...base, t: 0, done: 5 },
        { ...base, t: 500, done: 40, failed: 10 },
      ]),
    ).toEqual([[0.5, 100]]);
  });

  it('picks round ticks that cover the maximum', () => {
    expect(niceTicks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(64)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(0.3)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});
