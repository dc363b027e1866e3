// `bounded-fanout run` end to end, as a subprocess on the real local runtime (embedded emulators, poller, Invoke
// endpoint, the real functions) against real loopback servers:
//   - `npm start` (the built-in demo, made small), as a fresh clone runs it, exits 1 with a report whose counts
//     add up, the demo's failing tasks exactly in the dead-letter list, peaks within the flags' limits and
//     agreeing with the target server's own count; its HTML report renders in headless Chromium (Debian's
//     chromium when installed, else the one @sparticuz/chromium ships) with no error and every chart drawn, and a screenshot is left in .tmp/report-test.png;
//   - an all-good manifest exits 0; loopback is refused without --allow-host, and --retry-from runs the
//     dead-lettered tasks again;
//   - bad usage and bad input exit 2 with one line; Ctrl-C stops, prints the summary and exits 130.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../lib/config.js';
import { applyOverrides } from '../../../local/cli/shared-config.js';
import { buildDemoManifest } from '../../../local/demo/manifest.js';
import { TargetServer } from '../../../local/demo/target-server.js';
import { socketLimits } from '../../../local/report/assemble.js';
import { checkHtmlReport } from '../../../local/report/render-check.js';
import type { RunReport } from '../../../local/report/types.js';
import { repoRoot, runCli, startCli } from './cli-process.js';

let dir: string;
let target: TargetServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-run-'));
  target = await TargetServer.start();
});

afterAll(async () => {
  await target?.close();
  await rm(dir, { recursive: true, force: true });
});

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as RunReport;

function expectAccounted(report: RunReport): void {
  expect(report.succeeded + report.deadLettered + report.invalid + (report.unfinished ?? 0)).toBe(
    report.submitted,
  );
}

async function manifest(name: string, tasks: number, query = 'ms=5'): Promise<string> {
  const file = join(dir, `${name}.ndjson`);
  const lines = [JSON.stringify({ jobId: name })];
  for (let i = 0; i < tasks; i++) {
    lines.push(
      JSON.stringify({
        id: `${name}-${i}`,
        url: `${target.url}/task/${name}-${i}?${query}`,
        mode: i % 4 ? 'queue' : 'inline',
      }),
    );
  }
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

describe('npm start: the built-in demo', () => {
  const demoTasks = 150;
  const limits = {
    'inline-concurrency': 4,
    'worker-concurrency': 3,
    'per-invocation-concurrency': 4,
    'max-sockets': 8,
    'max-sockets-per-host': 4,
    'tasks-per-message': 5,
    'max-receive-count': 2,
  };
  const flags = Object.entries(limits).flatMap(([flag, value]) => [`--${flag}`, String(value)]);

  it('exits 1 with a report that adds up, the failing tasks dead-lettered, and every peak within its limit', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn('npm', ['start', '--silent', '--', ...flags], {
      cwd: repoRoot,
      env: { ...process.env, CI: 'true', BOUNDED_FANOUT_DEMO_TASKS: String(demoTasks) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/^Demo: 153 tasks against a target server at http:\/\/127\.0\.0\.1:\d+ /);
    expect(stderr).toMatch(/\| in flight: inline \d+\/4, workers \d+\/3, sockets \d+\/32\n/);
    expect(stdout).toContain('every task accounted for');
    expect(stdout).toContain('Report: .tmp/report.html, .tmp/report.json');

    const report = await readJson(join(repoRoot, '.tmp/report.json'));
    const demo = buildDemoManifest({ baseUrl: 'http://127.0.0.1:1', tasks: demoTasks });
    expectAccounted(report);
    expect(report).toMatchObject({
      jobId: 'demo',
      submitted: demo.expected.submitted,
      invalid: 3,
      succeeded: demo.expected.succeeded,
      deadLettered: demo.expected.deadLettered,
    });
    expect(report.unfinished).toBeUndefined();
    expect(report.deadLetteredTasks.length).toBeGreaterThan(0);
    expect(new Set(report.deadLetteredTasks.map((t) => t.id))).toEqual(demo.failingIds);
    for (const t of report.deadLetteredTasks) {
      expect(t.error).toMatch(/status (404|500)/);
      expect(t.attempts).toBeGreaterThanOrEqual(1);
      expect(t.task).toMatchObject({ id: t.id });
    }
    expect(report.invalidTasks.map((t) => t.id)).toEqual([
      'demo-invalid-0',
      'demo-invalid-1',
      'demo-invalid-2',
    ]);

    // Every layer within the limit given on the command line, and used.
    const { peaks, target: seen } = report;
    expect(peaks.inline).toBeGreaterThan(0);
    expect(peaks.inline).toBeLessThanOrEqual(limits['inline-concurrency']);
    expect(peaks.workers).toBeGreaterThan(0);
    expect(peaks.workers).toBeLessThanOrEqual(limits['worker-concurrency']);
    expect(peaks.perInvocation).toBeLessThanOrEqual(limits['per-invocation-concurrency']);
    expect(peaks.socketsPerContainer).toBeLessThanOrEqual(limits['max-sockets-per-host']);
    // The target server's own count agrees: never more connections than the budget allows one host, and no
    // fewer than the runtime saw open (its count is sampled, so it can only be lower).
    const config = applyOverrides(defaultConfig, {
      inlineConcurrency: 4,
      workerMaxConcurrency: 3,
      perInvocationConcurrency: 4,
      maxSockets: 8,
      maxSocketsPerHost: 4,
      tasksPerMessage: 5,
      maxReceiveCount: 2,
    });
    expect(report.limits.socketsToOneHost).toBe(socketLimits(config).toOneHost);
    expect(seen?.peakSockets).toBeGreaterThan(0);
    expect(seen?.peakSockets).toBeLessThanOrEqual(socketLimits(config).toOneHost);
    expect(seen?.peakSockets).toBeLessThanOrEqual((peaks.workersAll ?? 0) * 4 + 4);
    expect(peaks.sockets).toBeLessThanOrEqual(seen?.peakSockets ?? 0);
    expect(seen?.peakInFlight).toBeLessThanOrEqual(seen?.peakSockets ?? 0);
    // The timeline never shows more in flight than the limits, and ends on the final counts.
    for (const s of report.timeline) {
      expect(s.workersInFlight).toBeLessThanOrEqual(report.limits.workersReserved ?? 0);
      expect(s.inlineInFlight).toBeLessThanOrEqual(4);
    }
    expect(report.timeline.at(-1)).toMatchObject({ done: report.succeeded, failed: report.deadLettered });
    expect(report.latency?.count).toBeGreaterThan(demoTasks);

    // The HTML report renders in headless Chromium with no error and every chart drawn. The demo's inline
    // phase is short: on a loaded machine every sample can fall outside it, and the report then shows the
    // inline peak as a note instead of an all-zero chart.
    const inlineSampled = report.timeline.some((s) => s.inlineInFlight > 0);
    const screenshot = join(repoRoot, '.tmp/report-test.png');
    const rendered = await checkHtmlReport(join(repoRoot, '.tmp/report.html'), {
      screenshot,
      expectCharts: [
        ...(inlineSampled ? ['chart-inline'] : []),
        'chart-workers',
        'chart-sockets',
        'chart-throughput',
        'chart-progress',
        'chart-latency',
      ],
    });
    expect(rendered.problems).toEqual([]);
    expect(rendered.title).toBe('bounded-fanout report: demo');
    expect(existsSync(screenshot)).toBe(true);
  }, 300_000);
});

describe('bounded-fanout run with a manifest', () => {
  it('exits 0 when every task succeeds, and prints the JSON report with --format json', async () => {
    const file = await manifest('good', 40);
    const result = await runCli(['run', '--manifest', file, '--allow-host', '127.0.0.1', '--format', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as RunReport;
    expectAccounted(report);
    expect(report).toMatchObject({
      jobId: 'good',
      submitted: 40,
      succeeded: 40,
      deadLettered: 0,
      invalid: 0,
    });
    expect(report.deadLetteredTasks).toEqual([]);
    expect(report.manifest).toBe(file);
    expect(report.peaks.inline).toBeGreaterThan(0);
    // No demo server: the runtime itself counts inline tasks over time and times every attempt (undici's
    // diagnostics channels), within the limits given.
    expect(report.inlineInFlightSource).toBe('runtime');
    expect(Math.max(...report.timeline.map((s) => s.inlineInFlight))).toBeLessThanOrEqual(
      report.limits.inline,
    );
    expect(report.latencySource).toBe('tasks');
    expect(report.latency?.count).toBeGreaterThanOrEqual(40);
  }, 120_000);

  it('refuses loopback without --allow-host, then --retry-from runs the dead-lettered tasks again', async () => {
    const file = await manifest('guarded', 20);
    const first = join(dir, 'guarded.json');
    const refused = await runCli(['run', '--manifest', file, '--report', first, '--max-receive-count', '1']);
    expect(refused.code, refused.stderr).toBe(1);
    const report = await readJson(first);
    expect(report).toMatchObject({ submitted: 20, succeeded: 0, deadLettered: 20 });
    expect(report.deadLetteredTasks.every((t) => /DESTINATION_REFUSED.*loopback/.test(t.error))).toBe(true);

    const retry = await runCli([
      'run',
      '--retry-from',
      first,
      '--allow-host',
      '127.0.0.1',
      '--format',
      'json',
    ]);
    expect(retry.code, retry.stderr).toBe(0);
    const again = JSON.parse(retry.stdout) as RunReport;
    expect(again).toMatchObject({ jobId: 'guarded-retry1', submitted: 20, succeeded: 20, deadLettered: 0 });
    expect(again.manifest).toBe(`retry-from:${first}`);
  }, 180_000);
});

describe('bad usage and bad input exit 2 with one line', () => {
  it.each([
    [
      ['run', '--inline-concurrency', 'many'],
      'bounded-fanout: --inline-concurrency: expected an integer >= 1, got "many"\n',
    ],
    [
      ['run', '--manifest', '/nonexistent/jobs.ndjson'],
      'bounded-fanout: --manifest: no such file: "/nonexistent/jobs.ndjson"\n',
    ],
    [
      ['run', '--report', 'out.csv'],
      'bounded-fanout: --report: expected a file name ending in .json or .html, got "out.csv"\n',
    ],
    [
      ['run', '--retry-from', '/nonexistent/r.json'],
      'bounded-fanout: Report "/nonexistent/r.json": no such file\n',
    ],
    [
      ['run', '--max-sockets-per-host', '100', '--max-sockets', '10'],
      'bounded-fanout: Invalid concurrency budget (1 problem):\n  - maxSocketsPerHost: 100 is above maxSockets (10)\n',
    ],
  ])('%j', async (args, message) => {
    const result = await runCli(args);
    expect(result.stderr).toBe(message);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(2);
  });

  it('names the file, the field and the value of a bad manifest header', async () => {
    const file = join(dir, 'bad-header.ndjson');
    await writeFile(
      file,
      `${JSON.stringify({ jobId: 'x', limits: { inline: -1 } })}\n{"id":"a","url":"https://example.com"}\n`,
    );
    const result = await runCli(['run', '--manifest', file]);
    expect(result.stderr).toBe(`bounded-fanout: ${file}: limits.inline: -1 is not a positive integer\n`);
    expect(result.code).toBe(2);
  });

  it('prints a stack only with --verbose', async () => {
    const result = await runCli(['run', '--manifest', '/nonexistent/jobs.ndjson', '--verbose']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^UsageError: --manifest: no such file[^\n]*\n\s+at /);
  });
});

describe('Ctrl-C', () => {
  it('stops taking new work, prints the summary and exits 130', async () => {
    const report = join(dir, 'interrupted.json');
    const run = startCli(['run', '--report', report, '--tasks-per-message', '5'], {
      BOUNDED_FANOUT_DEMO_TASKS: '100',
    });
    await run.waitFor(/^\[0\.0 s\] /m);
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.stderr).toContain(
      'Stopping: no new work is taken; in-flight tasks finish. Ctrl-C again to cut them off.',
    );
    expect(result.stdout).toMatch(
      /Job demo interrupted after [\d.]+ s: unstarted work was left in the queue\./,
    );
    expect(result.code).toBe(130);
    const written = await readJson(report);
    expect(written.interrupted).toBe(true);
    expectAccounted(written);
  }, 180_000);
});
