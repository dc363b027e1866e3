// The limits a run's report shows are the ones that applied to it: a manifest's header may lower the deployed
// inline, enqueue and invoke concurrency and set its own packing (functions/effective-limits.ts), and the
// orchestrator runs the job under those. The real CLI as a subprocess on the local runtime, against a loopback
// counting server; the manifest reaches the orchestrator as an s3:// object, so its header is read there.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSharedConfig } from '../../../local/cli/shared-config.js';
import { socketLimits } from '../../../local/report/assemble.js';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';
import { useRunFixture, writeManifest } from './run-fixture.js';

const fx = useRunFixture('job-limits', () => ({ delayMs: 20 }));

describe('the run report under a manifest header with limits of its own', () => {
  it('shows the inline limit and the packing the header set, and the socket sums they give', async () => {
    const lines: unknown[] = [{ jobId: 'lim', limits: { inline: 2, tasksPerMessage: 3 } }];
    for (let i = 0; i < 12; i++)
      lines.push({ id: `t${i}`, url: `${fx.server.url}/t${i}`, mode: i % 2 ? 'queue' : 'inline' });
    const manifest = await writeManifest(join(fx.dir, 'lim.ndjson'), lines);
    const html = join(fx.dir, 'lim.html');
    const result = await runCli([
      'run',
      '--manifest',
      manifest,
      '--inline-concurrency',
      '8',
      '--allow-host',
      `127.0.0.1:${fx.server.port}`,
      '--report',
      html,
      '--format',
      'json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as RunReport;
    expect(report).toMatchObject({ submitted: 12, succeeded: 12 });
    // The deployed inline limit is the flag's 8; the header asked for 2, so 2 applied, and 3 tasks a message.
    expect(report.limits.inline).toBe(2);
    expect(report.limits.tasksPerMessage).toBe(3);
    expect(report.peaks.inline).toBeLessThanOrEqual(2);
    const applied = socketLimits({
      ...loadSharedConfig(),
      inlineConcurrency: 2,
      tasksPerMessage: 3,
    });
    expect([report.limits.sockets, report.limits.socketsToOneHost]).toEqual([applied.all, applied.toOneHost]);
    const page = await readFile(html, 'utf8');
    expect(page).toContain('3 tasks per message');
  }, 120_000);
});
