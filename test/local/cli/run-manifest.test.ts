// `bounded-fanout run` with manifests whose name and content disagree, and with one that breaks after its
// tasks: the real CLI as a subprocess on the real local runtime, against a loopback server that counts
// requests per task. The CLI's check, its upload's content type and the orchestrator's reader apply one
// format rule (lib/manifest/format.ts), so each file runs the way its bytes say.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';

let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-run-manifest-'));
  server = await startCountingServer();
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const hits = (id: string) => server.requests.filter((r) => r.path === `/${id}`).length;
const tasks = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    url: `${server.url}/${prefix}${i}`,
    mode: i % 2 ? 'queue' : 'inline',
  }));

async function run(file: string): Promise<{ code: number | null; stderr: string; report: RunReport }> {
  const result = await runCli(['run', '--manifest', file, '--allow-host', '127.0.0.1', '--format', 'json']);
  if (!result.stdout.startsWith('{')) throw new Error(`no report (exit ${result.code}): ${result.stderr}`);
  return { code: result.code, stderr: result.stderr, report: JSON.parse(result.stdout) as RunReport };
}

describe('bounded-fanout run: one format rule for the check, the upload and the reader', () => {
  it('runs a pretty-printed JSON manifest named .txt or .ndjson as JSON, and NDJSON named .json as NDJSON', async () => {
    const cases = [
      {
        name: 'pretty.txt',
        prefix: 'pt',
        text: (t: object[]) => JSON.stringify({ jobId: 'pt', tasks: t }, null, 2),
      },
      {
        name: 'pretty.ndjson',
        prefix: 'pn',
        text: (t: object[]) => JSON.stringify({ jobId: 'pn', tasks: t }, null, 2),
      },
      {
        name: 'lines.json',
        prefix: 'lj',
        text: (t: object[]) =>
          [JSON.stringify({ jobId: 'lj' }), ...t.map((x) => JSON.stringify(x))].join('\n'),
      },
    ];
    for (const c of cases) {
      const file = join(dir, c.name);
      await writeFile(file, c.text(tasks(c.prefix, 6)));
      const { code, stderr, report } = await run(file);
      expect([c.name, code], stderr).toEqual([c.name, 0]);
      expect(report).toMatchObject({
        jobId: c.prefix,
        submitted: 6,
        succeeded: 6,
        invalid: 0,
        deadLettered: 0,
      });
      for (let i = 0; i < 6; i++)
        expect([`${c.prefix}${i}`, hits(`${c.prefix}${i}`)]).toEqual([`${c.prefix}${i}`, 1]);
    }
  }, 240_000);

  it('fails a JSON manifest that breaks after its tasks: each task read runs once, the run says why', async () => {
    const file = join(dir, 'broken.json');
    const body = JSON.stringify({ jobId: 'broken', tasks: tasks('br', 4) });
    // A second "tasks" after the first: found only once the first four tasks were read.
    await writeFile(file, `${body.slice(0, -1)},"tasks":[${JSON.stringify(tasks('lost', 1)[0])}]}`);
    const { code, stderr, report } = await run(file);
    expect(code).toBe(1);
    expect(stderr).toContain('bounded-fanout: the job did not run to its end: tasks: appears twice\n');
    expect(report).toMatchObject({ submitted: 4, succeeded: 4, invalid: 0, deadLettered: 0 });
    expect(report.runtime).toMatchObject({
      status: 'failed',
      reason: 'manifest-error',
      error: 'tasks: appears twice',
    });
    expect([0, 1, 2, 3].map((i) => hits(`br${i}`))).toEqual([1, 1, 1, 1]);
    expect(hits('lost0')).toBe(0);
  }, 120_000);
});
