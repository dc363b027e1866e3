// More invalid lines than a report lists (MAX_LISTED): the CLI reads the first ones back from the result object
// and lets the rest go. Letting go of a part-read S3 body once ended the process with an unhandled stream
// error, with no summary and no report; now the run reports every count and lists the first MAX_LISTED.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { MAX_LISTED } from '../../../local/dead-letters.js';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';

let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-invalid-many-'));
  server = await startCountingServer({ delayMs: 1 });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a manifest with more invalid lines than a report lists', () => {
  it('reports every count and lists the first MAX_LISTED', async () => {
    const invalid = MAX_LISTED + 200;
    const lines = [JSON.stringify({ jobId: 'invalid-many' })];
    for (let i = 0; i < invalid; i++) lines.push(JSON.stringify({ id: `bad${i}`, url: `ftp://x/${i}` }));
    for (let i = 0; i < 10; i++) lines.push(JSON.stringify({ id: `ok${i}`, url: `${server.url}/ok${i}` }));
    const manifest = join(dir, 'tasks.ndjson');
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const report = join(dir, 'report.json');
    const run = await runCli([
      'run',
      '--manifest',
      manifest,
      '--allow-host',
      '127.0.0.1',
      '--report',
      report,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(run.stderr).not.toMatch(/Unhandled|ECONNRESET|aborted/);
    expect(run.stdout).toContain('every task accounted for');
    const written = JSON.parse(await readFile(report, 'utf8')) as RunReport;
    expect(written).toMatchObject({ submitted: invalid + 10, succeeded: 10, invalid });
    expect(written.invalidTasks).toHaveLength(MAX_LISTED);
    expect(written.invalidTasks[0]).toMatchObject({ id: 'bad0' });
  }, 60_000);
});
