// `bounded-fanout plan` as a subprocess: the budget table for the flags, a manifest's task count, and the same
// refusal as at synth for a bad combination.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBudgetTable } from '../../../lib/budget/budget-table.js';
import { planBudget } from '../../../lib/budget/index.js';
import { defaultConfig } from '../../../lib/config.js';
import { NOT_ASKED } from '../../../local/cli/account-check.js';
import { applyOverrides } from '../../../local/cli/shared-config.js';
import { buildDemoManifest, toNdjson } from '../../../local/demo/manifest.js';
import { InvokeServer } from '../../../local/invoke-server.js';
import { runCli } from './cli-process.js';

let dir: string;
/** A new account's Lambda quota (10, all unreserved) and a standard one (1,000), on loopback. */
let newAccount: InvokeServer;
let standardAccount: InvokeServer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-plan-'));
  newAccount = new InvokeServer({
    functions: [],
    accountSettings: { concurrentExecutions: 10, unreservedConcurrentExecutions: 10 },
  });
  standardAccount = new InvokeServer({ functions: [] });
  await Promise.all([newAccount.listen(), standardAccount.listen()]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await Promise.all([newAccount?.close(), standardAccount?.close()]);
});

/** The text after the budget table: the account check. */
const accountPart = (stdout: string) => stdout.slice(stdout.indexOf('Account concurrency'));

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
      `${formatBudgetTable(planBudget(config, { tasks: 1_000_000, latencyMs: 250 }))}\n\nAccount concurrency: ${NOT_ASKED}\n`,
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

  it("says the default reservations do not fit a new account's quota of 10", async () => {
    const result = await runCli(['plan', '--endpoint', newAccount.endpoint]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(accountPart(result.stdout)).toBe(
      [
        `Account concurrency (Lambda GetAccountSettings, ${newAccount.endpoint})`,
        '  limit 10, unreserved 10; Lambda keeps 10 unreserved, so 0 can be reserved',
        '  this stack reserves 15 (worker 14 + orchestrator 1): it does not fit, cdk deploy would fail; set workerReservedConcurrency and orchestratorReservedConcurrency to "none" (the event source\'s maximum still bounds the queue path), or ask AWS for a higher Lambda concurrency quota',
        "  the budget's 15 processes at once exceed the account's limit of 10: the rest are throttled (throttled SQS receives count toward maxReceiveCount)",
        '',
      ].join('\n'),
    );
  });

  it('says "none" fits that account, and the defaults fit a quota of 1,000', async () => {
    const none = await runCli([
      'plan',
      '--endpoint',
      newAccount.endpoint,
      '--worker-reserved-concurrency',
      'none',
      '--orchestrator-reserved-concurrency',
      'none',
      // 5 from the queue + 4 invokes + 1 orchestrator: the 10 the account can run at once.
      '--worker-concurrency',
      '5',
    ]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('worker: not reserved ("none"): no cap of its own');
    expect(accountPart(none.stdout)).toBe(
      [
        `Account concurrency (Lambda GetAccountSettings, ${newAccount.endpoint})`,
        '  limit 10, unreserved 10; Lambda keeps 10 unreserved, so 0 can be reserved',
        '  this stack reserves nothing: it fits',
        '',
      ].join('\n'),
    );
    const standard = await runCli(['plan', '--endpoint', standardAccount.endpoint, '--format', 'json']);
    expect(standard.code).toBe(0);
    expect(JSON.parse(standard.stdout).account).toMatchObject({
      checked: true,
      fit: {
        account: { limit: 1000, unreserved: 1000 },
        reserved: 15,
        available: 900,
        fits: true,
        lines: [
          'limit 1,000, unreserved 1,000; Lambda keeps 100 unreserved, so 900 can be reserved',
          'this stack reserves 15 (worker 14 + orchestrator 1): it fits',
        ],
      },
    });
  });

  it('says it could not check when the endpoint does not answer, and still prints the plan', async () => {
    const closed = new InvokeServer({ functions: [] });
    const endpoint = await closed.listen();
    await closed.close();
    const result = await runCli(['plan', '--endpoint', endpoint]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Concurrency budget (1,000,000 tasks at 100 ms a request)');
    expect(accountPart(result.stdout)).toMatch(
      new RegExp(
        `^Account concurrency \\(Lambda GetAccountSettings, ${endpoint.replace(/[.]/g, '\\.')}\\): could not check \\(.*ECONNREFUSED.*\\)\n$`,
      ),
    );
  });

  it('refuses a reservation of 0, naming the flag and the value', async () => {
    const result = await runCli(['plan', '--worker-reserved-concurrency', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'bounded-fanout: --worker-reserved-concurrency: expected an integer >= 1, or "none" for no reservation (0 would throttle every invocation), got "0"\n',
    );
  });
});
