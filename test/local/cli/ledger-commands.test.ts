// The ledger commands end to end: runs recorded with the real store (JobLedgerTable) on the test backend's
// job table, then `bounded-fanout status|runs|pause|resume|cancel|limits` in a child process against the
// backend's DynamoDB endpoint, and the record read back to see what changed.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { OverlapPolicies, resourceNames } from '../../../lib/config.js';
import { RunReasons, RunStatuses } from '../../../lib/ledger/run-record.js';
import { finalStatus } from '../../../lib/ledger/run-rules.js';
import { createResources, localCredentials } from '../../../local/resources.js';
import { runCli, startCli } from './cli-process.js';

const backend = inject('backend');
const prefix = `cli-ledger-${process.pid}`;
const endpoint = backend.endpoints.dynamodb;
const table = resourceNames({ prefix }).jobTable;
const where = ['--endpoint', endpoint, '--prefix', prefix];
let dynamodb: DynamoDBClient;
let ledger: JobLedgerTable;

beforeAll(async () => {
  await createResources({ prefix, visibilityTimeoutSeconds: 30, maxReceiveCount: 3 }, backend);
  dynamodb = new DynamoDBClient({ endpoint, region: backend.region, credentials: localCredentials });
  ledger = new JobLedgerTable(dynamodb, { tableName: table, retentionDays: 1 });
});

afterAll(() => dynamodb?.destroy());

async function startRun(jobId: string, runId: string, startedAt: number) {
  const { record } = await ledger.startRun({
    jobId,
    runId,
    startedAt,
    toleratedFailurePercent: 100,
    overlap: OverlapPolicies.ALLOW,
  });
  return record;
}

const cli = (args: string[]) => runCli([...args, ...where]);

describe('status and runs', () => {
  it('status --format json prints the record with the counts at the top level; text a short table', async () => {
    await startRun('report', 'r1', Date.UTC(2026, 11, 5, 10));
    await ledger.settle({
      jobId: 'report',
      runId: 'r1',
      key: 'segment:0',
      delta: { submitted: 10, succeeded: 6, invalid: 1 },
    });
    await ledger.settle({ jobId: 'report', runId: 'r1', key: 'm1', delta: { deadLettered: 2 } });
    const json = await cli(['status', '--job', 'report', '--format', 'json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toMatchObject({
      jobId: 'report',
      runId: 'r1',
      status: 'running',
      submitted: 10,
      succeeded: 6,
      deadLettered: 2,
      undeliverable: 0,
      invalid: 1,
      cancelled: 0,
      manifestDone: false,
      startedAt: Date.UTC(2026, 11, 5, 10),
    });
    const text = await cli(['status', '--job', 'report', '--run', 'r1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      [
        'Run r1 of job report: running',
        '  started   2026-12-05T10:00:00.000Z',
        '  finished  -',
        '  manifest  still being read',
        '  limits    as deployed',
        '',
        '  submitted      10',
        '  succeeded       6',
        '  dead-lettered   2',
        '  undeliverable   0',
        '  invalid         1',
        '  cancelled       0',
        '  not yet ended   1',
        '',
      ].join('\n'),
    );
  });

  it('runs lists the job runs newest first; status without --run shows the latest', async () => {
    await startRun('many', 'old', Date.UTC(2026, 11, 1));
    await startRun('many', 'new', Date.UTC(2026, 11, 2));
    const json = await cli(['runs', '--job', 'many', '--format', 'json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { runId: string }[]).map((r) => r.runId)).toEqual(['new', 'old']);
    const text = await cli(['runs', '--job', 'many']);
    expect(text.stdout.split('\n')[0]).toMatch(
      /^RUN +STATUS +STARTED +FINISHED +SUBMITTED +SUCCEEDED +FAILED/,
    );
    expect(
      text.stdout
        .split('\n')
        .slice(1, 3)
        .map((l) => l.split(/ +/)[0]),
    ).toEqual(['new', 'old']);
    const latest = await cli(['status', '--job', 'many', '--format', 'json']);
    expect(JSON.parse(latest.stdout).runId).toBe('new');
  });

  it('status without --job lists the latest run of every job', async () => {
    const json = await cli(['status', '--format', 'json']);
    expect(json.code).toBe(0);
    const latest = JSON.parse(json.stdout) as { jobId: string; runId: string }[];
    // Other tests of this file add jobs meanwhile: the two recorded before this one are there, one line each.
    expect(
      latest.filter((r) => r.jobId === 'many' || r.jobId === 'report').map((r) => [r.jobId, r.runId]),
    ).toEqual([
      ['many', 'new'],
      ['report', 'r1'],
    ]);
    expect(new Set(latest.map((r) => r.jobId)).size).toBe(latest.length);
    const text = await cli(['status']);
    expect(text.stdout.split('\n')[0]).toMatch(/^JOB +RUN +STATUS/);
  });

  it('a run, a job or a table that is not there: one line, exit 2', async () => {
    expect(await cli(['status', '--job', 'report', '--run', 'nope'])).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `bounded-fanout: No such run: job report has no run nope in the job table ${table} at ${endpoint}\n`,
    });
    expect(await cli(['pause', '--job', 'nobody'])).toMatchObject({
      code: 2,
      stderr: `bounded-fanout: No such run: job nobody has no runs in the job table ${table} at ${endpoint}\n`,
    });
    const missing = await runCli(['runs', '--job', 'x', '--endpoint', endpoint, '--prefix', 'no-such-stack']);
    expect(missing).toMatchObject({
      code: 2,
      stderr: `bounded-fanout: No job table no-such-stack-jobs at ${endpoint} (is the stack deployed there? see --prefix)\n`,
    });
  });

  it('status --watch prints again until the run has finished, then exits with its verdict', async () => {
    await startRun('watched', 'w1', Date.now());
    const watch = startCli(['status', '--job', 'watched', '--watch', '--format', 'json', ...where]);
    await watch.waitFor(/"runId":"w1"/);
    const settled = await ledger.settle({
      jobId: 'watched',
      runId: 'w1',
      key: 'segment:0',
      delta: { submitted: 2, succeeded: 2 },
      manifestDone: true,
    });
    await ledger.finish(settled.record!, finalStatus(settled.record!));
    const result = await watch.done;
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatchObject({ status: 'running', succeeded: 0 });
    expect(lines.at(-1)).toMatchObject({ status: 'succeeded', submitted: 2, succeeded: 2 });
    expect(lines.at(-1).finishedAt).toEqual(expect.any(Number));
  });
});

describe('pause, resume and cancel', () => {
  it('change the latest run from the statuses each allows, and say why not otherwise', async () => {
    await startRun('ctl', 'c1', Date.UTC(2026, 11, 1));
    await startRun('ctl', 'c2', Date.UTC(2026, 11, 2));
    const status = async (runId: string) => (await ledger.getRun('ctl', runId))?.status;

    expect(await cli(['pause', '--job', 'ctl'])).toMatchObject({
      code: 0,
      stdout: 'run c2 of job ctl: running -> paused\n',
    });
    expect([await status('c2'), await status('c1')]).toEqual(['paused', 'running']);
    expect(await cli(['pause', '--job', 'ctl'])).toMatchObject({
      code: 0,
      stdout: 'run c2 of job ctl is already paused: nothing changed\n',
    });
    expect(await cli(['resume', '--job', 'ctl', '--run', 'c2'])).toMatchObject({
      code: 0,
      stdout: 'run c2 of job ctl: paused -> running\n',
    });
    expect(await status('c2')).toBe('running');
    expect(await cli(['cancel', '--job', 'ctl', '--run', 'c1'])).toMatchObject({
      code: 0,
      stdout: 'run c1 of job ctl: running -> cancelled (cancelled)\n',
    });
    expect(await ledger.getRun('ctl', 'c1')).toMatchObject({
      status: RunStatuses.CANCELLED,
      reason: RunReasons.CANCELLED_BY_OPERATOR,
    });
    expect(await cli(['resume', '--job', 'ctl', '--run', 'c1'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'bounded-fanout: run c1 of job ctl is cancelled (cancelled): nothing to resume\n',
    });
    expect(await status('c1')).toBe('cancelled');
  });

  it('a finished run has nothing to pause', async () => {
    await startRun('done', 'd1', Date.now());
    const settled = await ledger.settle({
      jobId: 'done',
      runId: 'd1',
      key: 'segment:0',
      delta: { submitted: 1, succeeded: 1 },
      manifestDone: true,
    });
    await ledger.finish(settled.record!, finalStatus(settled.record!));
    expect(await cli(['pause', '--job', 'done'])).toMatchObject({
      code: 1,
      stderr: 'bounded-fanout: run d1 of job done is succeeded: nothing to pause\n',
    });
    expect(await cli(['limits', '--job', 'done', 'perInvocationConcurrency=1'])).toMatchObject({
      code: 1,
      stderr: 'bounded-fanout: run d1 of job done is succeeded: its limits no longer apply\n',
    });
  });
});

describe('limits', () => {
  it('sets the run overrides, merged over those it has; refuses a value above the deployed one', async () => {
    await startRun('lim', 'l1', Date.now());
    expect(await cli(['limits', '--job', 'lim', 'perInvocationConcurrency=4'])).toMatchObject({
      code: 0,
      stdout: 'run l1 of job lim: limits perInvocationConcurrency=4\n',
    });
    expect(await cli(['limits', '--job', 'lim', '--run', 'l1', 'inlineConcurrency=2'])).toMatchObject({
      code: 0,
      stdout: 'run l1 of job lim: limits perInvocationConcurrency=4 inlineConcurrency=2\n',
    });
    expect((await ledger.getRun('lim', 'l1'))?.limits).toEqual({
      perInvocationConcurrency: 4,
      inlineConcurrency: 2,
    });
    const refused = await cli(['limits', '--job', 'lim', 'perInvocationConcurrency=100000']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^bounded-fanout: Invalid concurrency budget \(1 problem\):\n {2}- perInvocationConcurrency: 100000 is above the deployed perInvocationConcurrency \(\d+\): an override only lowers what the budget proved at synth\n$/,
    );
    expect((await ledger.getRun('lim', 'l1'))?.limits).toEqual({
      perInvocationConcurrency: 4,
      inlineConcurrency: 2,
    });
    const host = await cli(['limits', '--job', 'lim', 'downstream.api.example.com.maxConcurrency=1']);
    expect(host.code).toBe(2);
    expect(host.stderr).toContain('names host "api.example.com", not in the config\'s downstream');
  });

  it('refuses a host named after an Object property, exit 2, the run untouched', async () => {
    await startRun('lim3', 'l1', Date.now());
    // cdk.json declares no downstream host: `constructor` and `__proto__` are not one either.
    for (const host of ['constructor', '__proto__']) {
      const result = await cli(['limits', '--job', 'lim3', `downstream.${host}.maxConcurrency=100000`]);
      expect(result.stderr).toContain(`names host "${host}", not in the config's downstream (none declared)`);
      expect(result).toMatchObject({ code: 2, stdout: '' });
    }
    expect(await ledger.getRun('lim3', 'l1')).toMatchObject({ version: 1 });
    expect((await ledger.getRun('lim3', 'l1'))?.limits).toBeUndefined();
  });

  it("the worker's settings at an endpoint without them: one line, exit 2, the run untouched", async () => {
    await startRun('lim2', 'l1', Date.now());
    const result = await cli([
      'limits',
      '--job',
      'lim2',
      'perInvocationConcurrency=3',
      'eventSourceMaxConcurrency=2',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(
        `^bounded-fanout: eventSourceMaxConcurrency: (${endpoint} refused it for function ${prefix}-worker \\(\\w+\\): it does not answer Lambda's control plane there|no event source mapping from queue ${prefix}-work to function ${prefix}-worker at ${endpoint})`,
      ),
    );
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect((await ledger.getRun('lim2', 'l1'))?.limits).toBeUndefined();
  });
});
