// `run --state DIR --resume` after a kill -9 between the settle that completed a run and the run's end (the
// worker settles its message, the run's counts say every task ended, and the process dies as it sends the
// ledger's finish). The message is open in the journal, settled, with nothing left to send: done by its
// follow-ups alone, the resume closed it and nothing else ever ended the run, so the resumed report said
// `running` (exit 0) and the run's result object and Run Finished event were never written. Now a run found
// complete and not ended sends its settled messages back as later receives (local/settled-open.ts), whose
// worker runs nothing and ends it (functions/worker-follow-ups.ts). A real child CLI killed with SIGKILL at the
// finish (kill-at-finish.mjs), and a loopback target counting requests per task.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { reportOf, runCli, startCli } from './cli-process.js';

const killAtFinish = new URL('./kill-at-finish.mjs', import.meta.url).href;

let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-end-'));
  server = await startCountingServer();
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];

describe('bounded-fanout run --state DIR --resume, killed between the last settle and the run’s end', () => {
  it.each(['off', 'message', 'task'])(
    'idempotency %s: the resume ends the run, its tasks run once',
    async (mode) => {
      const name = `end-${mode}`;
      const manifest = join(dir, `${name}.ndjson`);
      const lines = [
        { jobId: name },
        ...['t0', 't1'].map((id) => ({ id, url: `${server.url}/${name}/${id}`, mode: 'queue' })),
      ];
      await writeFile(manifest, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const state = join(dir, `state-${name}`);
      const args = ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1'];
      const limits = ['--idempotency', mode, '--tasks-per-message', '2'];
      const first = startCli([...args, ...own, ...limits], {
        NODE_OPTIONS: `--import=${killAtFinish}`,
        BF_KILL_AT_FINISH: '1',
      });
      expect((await first.done).signal).toBe('SIGKILL');
      const requests = () => server.requests.filter((r) => r.path.startsWith(`/${name}/`)).length;
      expect(requests()).toBe(2);

      const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
      expect(report.status).toBe('succeeded');
      expect([report.submitted, report.succeeded, report.deadLettered, report.unfinished ?? 0]).toEqual([
        2, 2, 0, 0,
      ]);
      expect(requests()).toBe(2);
      expect(report.resumed).toMatchObject({ settled: 1, tasks: 0 });
    },
    120_000,
  );
});
