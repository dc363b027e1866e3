// The HTML report in a real headless Chromium (Debian's chromium when installed, else the one @sparticuz/chromium
// ships in its npm package): no page error, nothing fetched, and every chart drawn with data. The check itself
// is shown to fail on a broken page.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../../local/report/html.js';
import { checkHtmlReport, chromiumExecutable } from '../../../local/report/render-check.js';
import { fixtureReport } from './fixture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-render-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('HTML report in headless Chromium', () => {
  it('finds a browser with nothing installed by hand', async () => {
    const path = await chromiumExecutable();
    expect(existsSync(path), path).toBe(true);
  });

  it('renders with no errors and every chart drawn', async () => {
    const file = join(dir, 'report.html');
    await writeFile(file, renderHtmlReport(fixtureReport()));
    const result = await checkHtmlReport(file, {
      screenshot: join(dir, 'report.png'),
      expectCharts: ['chart-inline', 'chart-workers', 'chart-sockets', 'chart-throughput', 'chart-latency'],
    });
    expect(result.problems).toEqual([]);
    expect(result.title).toBe('bounded-fanout report: fixture');
    expect(result.charts).toHaveLength(6);
    for (const chart of result.charts) {
      expect(chart.points, chart.id).toBeGreaterThan(0);
      expect(chart.markWidth, chart.id).toBeGreaterThan(100);
    }
    expect(existsSync(join(dir, 'report.png'))).toBe(true);
  });

  it('fails a page with an error, a network request and an empty chart', async () => {
    const file = join(dir, 'broken.html');
    await writeFile(
      file,
      [
        '<!doctype html><html><head><title>broken</title></head><body>',
        '<img src="http://127.0.0.1:9/pixel.png">',
        '<svg class="chart" id="chart-empty"><path class="series" data-points="0" d=""/></svg>',
        '<script>throw new Error("boom")</script>',
        '</body></html>',
      ].join(''),
    );
    const result = await checkHtmlReport(file, { expectCharts: ['chart-inline'] });
    expect(result.problems).toEqual(
      expect.arrayContaining([
        'page error: boom',
        'request beyond the file: http://127.0.0.1:9/pixel.png',
        'chart chart-empty is empty: no data points',
        'chart chart-inline is missing',
      ]),
    );
  });
});
