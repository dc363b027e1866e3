// `bounded-fanout plan` as a subprocess: the budget table for the flags, a manifest's task count, and the same
// refusal as at synth for a bad combination.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planBudget } from '../../../lib/budget.js';
import { formatBudgetTable } from '../../../lib/budget-table.js';
import { defaultConfig } from '../../../lib/config.js';
import { applyOverrides } from '../../../local/cli/shared-config.js';
import { buildDemoManifest, toNdjson } from '../../../local/demo/manifest.js';
import { runCli } from './cli-process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bounded-fanout plan', () => {
  it('prints the budget table of planBudget for the flags', async () => {
    const result = await runCli([
      'plan',
      '--max-sockets-per-host',
      '8',
      '--worker-concurrency',
      '20',
      '--latency-ms',
      '250',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const config = applyOverrides(defaultConfig, { maxSocketsPerHost: 8, workerMaxConcurrency: 20 });
    expect(result.stdout).toBe(
      `${formatBudgetTable(planBudget(config, { tasks: 1_000_000, latencyMs: 250 }))}\n`,
    );
    expect(result.stdout).toContain('Concurrency budget (1,000,000 tasks at 250 ms a request)');
    expect(result.stdout).toMatch(/connections one host can see\s+\d/);
  });

  it('counts the tasks of a manifest, valid and invalid', async () => {
    const file = join(dir, 'demo.ndjson');
    await writeFile(
      file,
      toNdjson(buildDemoManifest({ baseUrl: 'https://partner.example', tasks: 250, invalid: 4 })),
    );
    const result = await runCli(['plan', '--manifest', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Manifest ${file} (job demo): 250 valid tasks, 4 invalid.`);
    expect(result.stdout).toContain('Concurrency budget (250 tasks at 100 ms a request)');
  });

  it('prints JSON when asked', async () => {
    const result = await runCli(['plan', '--tasks', '5000', '--format', 'json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      options: { tasks: 5000, latencyMs: 100 },
      problems: [],
    });
  });

  it("refuses a bad value with validateBudget's message, exit 2", async () => {
    const result = await runCli(['plan', '--worker-concurrency', '1']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'bounded-fanout: Invalid concurrency budget (1 problem):\n  - workerMaxConcurrency: 1 is below 2 (the SQS event source takes 2..1000)\n',
    );
  });

  it('prints the table of a bad combination (it shows why), then refuses it, exit 2', async () => {
    const result = await runCli(['plan', '--max-sockets-per-host', '100', '--max-sockets', '10']);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(
      'Problems (validateBudget refuses this config)\n  - maxSocketsPerHost: 100 is above maxSockets (10)',
    );
    expect(result.stderr).toBe(
      'bounded-fanout: Invalid concurrency budget (1 problem):\n  - maxSocketsPerHost: 100 is above maxSockets (10)\n',
    );
  });

  it('exits 2 with one line for a missing manifest and a bad header', async () => {
    const missing = await runCli(['plan', '--manifest', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `bounded-fanout: --manifest: no such file: ${JSON.stringify(join(dir, 'nope.json'))}\n`,
    );
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ jobId: 'x', limits: { inline: -1 }, tasks: [] }));
    const header = await runCli(['plan', '--manifest', bad]);
    expect(header.code).toBe(2);
    expect(header.stderr).toBe(`bounded-fanout: ${bad}: limits.inline: -1 is not a positive integer\n`);
  });
});
