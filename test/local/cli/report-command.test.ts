// `bounded-fanout report --job`: a run's report rebuilt from what it left behind (the ledger's record and
// the result object), as an operator would after a run in AWS, here against a real `serve` in a child process.
// The run itself is a real `run --endpoint` against that serve, with tasks that fail for good, a secret in a
// failing task's headers and an invalid line: the rebuilt report must agree with the run's own report on the
// status, every count and every failed task, keep the secret out, and say that peaks are not observed.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';
import {
  loopbackRunFlags,
  prefixOf,
  type Serve,
  startServe,
  useRunFixture,
  writeManifest,
} from './run-fixture.js';

const SECRET = 'Bearer rpt-s3cret-42';
// Tasks whose path starts with /f fail for good (400: not retried).
const fx = useRunFixture('report', (r) => (r.path.startsWith('/f') ? { status: 400 } : undefined));
let serve: Serve;
let endpoint: string;

beforeAll(async () => {
  serve = await startServe();
  endpoint = serve.endpoint;
}, 60_000);

afterAll(() => {
  if (serve && serve.cli.child.exitCode === null) serve.cli.child.kill('SIGKILL');
});

async function runJob(): Promise<{ report: RunReport; prefix: string }> {
  const lines: unknown[] = [{ jobId: 'rpt', runId: 'r1' }];
  for (let i = 0; i < 12; i++) {
    const failing = i % 4 === 0;
    const path = failing ? `/f${i}` : `/ok${i}`;
    lines.push({
      id: `t${i}`,
      url: `${fx.server.url}${path}`,
      mode: i % 2 ? 'queue' : 'inline',
      ...(failing ? { headers: { authorization: SECRET } } : {}),
    });
  }
  lines.push({ id: 'bad', url: 'ftp://nowhere.example/x' });
  const manifest = await writeManifest(join(fx.dir, 'rpt.ndjson'), lines);
  const result = await runCli([
    'run',
    '--endpoint',
    endpoint,
    '--manifest',
    manifest,
    ...loopbackRunFlags(fx.server),
  ]);
  expect(result.code).toBe(1);
  return { report: JSON.parse(result.stdout) as RunReport, prefix: prefixOf(result) };
}

const byId = (a: { id?: string }, b: { id?: string }) => String(a.id).localeCompare(String(b.id));

describe('bounded-fanout report --job', () => {
  it('rebuilds the run report from the ledger and the result object: same status, counts and failed tasks', async () => {
    const { report: own, prefix } = await runJob();
    expect(own).toMatchObject({
      status: 'partial',
      submitted: 13,
      succeeded: 9,
      deadLettered: 3,
      invalid: 1,
    });
    const json = join(fx.dir, 'rebuilt.json');
    const html = join(fx.dir, 'rebuilt.html');
    const where = ['--endpoint', endpoint, '--prefix', prefix];
    const result = await runCli(['report', ...where, '--job', 'rpt', '--report', json, '--report', html]);
    // The run ended partial: written, exit 1 (as `status --watch` and `run` say for it).
    expect(result).toMatchObject({ code: 1, stdout: `report: ${json}\nreport: ${html}\n`, stderr: '' });

    const rebuilt = JSON.parse(await readFile(json, 'utf8')) as RunReport & {
      runtime: Record<string, unknown>;
    };
    for (const key of [
      'jobId',
      'runId',
      'status',
      'submitted',
      'succeeded',
      'deadLettered',
      'invalid',
    ] as const) {
      expect(rebuilt[key]).toEqual(own[key]);
    }
    expect(rebuilt).toMatchObject({ cancelled: 0, undeliverable: 0, timeline: [] });
    expect(rebuilt.peaks).toBeUndefined();
    expect(rebuilt.runtime).toMatchObject({ source: 'ledger', manifestDone: true });
    expect(rebuilt.runtime.resultUri).toBe(`s3://${prefix}-data/results/rpt/r1.ndjson`);
    expect([...rebuilt.deadLetteredTasks].sort(byId).map((t) => [t.id, t.error])).toEqual(
      [...own.deadLetteredTasks].sort(byId).map((t) => [t.id, t.error]),
    );
    expect(rebuilt.deadLetteredTasks.map((t) => t.id).sort()).toEqual(['t0', 't4', 't8']);
    expect(rebuilt.invalidTasks.map(({ id, error }) => ({ id, error }))).toEqual(
      own.invalidTasks.map(({ id, error }) => ({ id, error })),
    );

    const page = await readFile(html, 'utf8');
    expect(page).toContain('id="unobserved"');
    expect(page).toContain('Every task accounted for: 13 of 13.');
    expect(page).not.toContain('id="peaks"');
    for (const text of [await readFile(json, 'utf8'), page]) expect(text).not.toContain('rpt-s3cret-42');
  }, 180_000);

  it('says what is wrong, exit 2: no such run, no --report, a report name it cannot write', async () => {
    const where = ['--endpoint', endpoint];
    const none = await runCli(['report', ...where, '--job', 'nope', '--report', join(fx.dir, 'x.json')]);
    expect(none).toMatchObject({
      code: 2,
      stderr: `bounded-fanout: No such run: job nope has no runs in the job table bounded-fanout-jobs at ${endpoint}\n`,
    });
    const noFile = await runCli(['report', ...where, '--job', 'rpt']);
    expect(noFile).toMatchObject({
      code: 2,
      stderr: 'bounded-fanout: report needs --report FILE.json or FILE.html\n',
    });
    const badName = await runCli(['report', ...where, '--job', 'rpt', '--report', 'x.txt']);
    expect(badName).toMatchObject({
      code: 2,
      stderr: 'bounded-fanout: --report: expected a file name ending in .json or .html, got "x.txt"\n',
    });
  }, 60_000);
});
