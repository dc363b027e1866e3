// Renders an HTML report in headless Chromium (driven by playwright-core) and says what is wrong with it: page errors, console errors, any request beyond the file itself (the page must need no
// network), and charts that are missing or drawn empty. Optionally takes a full-page screenshot.
//   npx tsx local/report/render-check.ts .tmp/report.html [.tmp/report.png]
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Debian's `chromium` package, used when it is installed (or CHROMIUM_PATH, when set). */
export const systemChromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

/**
 * The browser to render with: CHROMIUM_PATH or Debian's chromium when present; otherwise the Chromium that
 * @sparticuz/chromium ships inside its npm package (unpacked to the temp folder on first use). So the check
 * needs nothing but `npm install` on a fresh machine: no apt step, no browser download.
 */
export async function chromiumExecutable(): Promise<string> {
  if (process.env.CHROMIUM_PATH || existsSync(systemChromiumPath)) return systemChromiumPath;
  const { default: packaged } = await import('@sparticuz/chromium');
  return packaged.executablePath();
}

export interface ChartCheck {
  readonly id: string;
  /** Data points drawn (the sum of the chart's data-points attributes). */
  readonly points: number;
  /** Rendered size of the chart's data marks, in CSS pixels. */
  readonly markWidth: number;
  readonly markHeight: number;
}

export interface RenderCheck {
  readonly problems: readonly string[];
  readonly charts: readonly ChartCheck[];
  readonly title: string;
}

export interface RenderCheckOptions {
  readonly screenshot?: string;
  /** Chart ids that must be there. */
  readonly expectCharts?: readonly string[];
  readonly executablePath?: string;
  /** Page size; with `fullPage: false` the screenshot is this size (a picture of the top of the report). */
  readonly viewport?: { readonly width: number; readonly height: number };
  readonly fullPage?: boolean;
}

export async function checkHtmlReport(file: string, options: RenderCheckOptions = {}): Promise<RenderCheck> {
  const { chromium } = await import('playwright-core');
  const {
    screenshot,
    expectCharts = [],
    executablePath,
    viewport = { width: 1280, height: 900 },
    fullPage = true,
  } = options;
  const url = pathToFileURL(resolve(file)).href;
  const userDataDir = await mkdtemp(join(tmpdir(), 'bf-chromium-'));
  const problems: string[] = [];
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: executablePath ?? (await chromiumExecutable()),
    headless: true,
    args: [...chromiumArgs],
    viewport: { ...viewport },
  });
  try {
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    await page.route('**/*', (route) => {
      const requested = route.request().url();
      if (requested === url) return route.continue();
      problems.push(`request beyond the file: ${requested}`);
      return route.abort();
    });
    await page.goto(url, { waitUntil: 'load' });
    const title = await page.title();
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => {
        const marks = [...svg.querySelectorAll('[data-points]')];
        const points = marks.reduce((sum, el) => sum + Number(el.getAttribute('data-points') ?? 0), 0);
        let markWidth = 0;
        let markHeight = 0;
        for (const el of marks) {
          const box = el.getBoundingClientRect();
          markWidth = Math.max(markWidth, box.width);
          markHeight = Math.max(markHeight, box.height);
        }
        return { id: svg.id, points, markWidth, markHeight };
      }),
    );
    problems.push(...chartProblems(charts, expectCharts));
    if (screenshot) await page.screenshot({ path: screenshot, fullPage });
    return { problems, charts, title };
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}

/** What is wrong with the charts drawn: none at all, one empty, one expected but missing. */
function chartProblems(charts: readonly ChartCheck[], expectCharts: readonly string[]): string[] {
  const problems: string[] = [];
  if (charts.length === 0) problems.push('no chart on the page');
  for (const chart of charts) {
    if (chart.points === 0) problems.push(`chart ${chart.id} is empty: no data points`);
    else if (chart.markWidth < 1) problems.push(`chart ${chart.id} is empty: its marks have no width`);
    // A line that never leaves zero draws nothing: the chart is as good as empty.
    else if (chart.markHeight < 1) problems.push(`chart ${chart.id} is empty: every value is zero`);
  }
  for (const id of expectCharts) {
    if (!charts.some((c) => c.id === id)) problems.push(`chart ${id} is missing`);
  }
  return problems;
}

async function cli(): Promise<void> {
  const [file, screenshot] = process.argv.slice(2);
  if (!file) {
    console.error('usage: npx tsx local/report/render-check.ts REPORT.html [SCREENSHOT.png]');
    process.exit(2);
  }
  const result = await checkHtmlReport(file, { screenshot });
  for (const chart of result.charts) {
    console.log(
      `${chart.id}: ${chart.points} points, ${Math.round(chart.markWidth)} x ${Math.round(chart.markHeight)} px`,
    );
  }
  for (const problem of result.problems) console.error(`problem: ${problem}`);
  if (screenshot) console.log(`screenshot: ${screenshot}`);
  process.exit(result.problems.length ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) await cli();
