// `run --state DIR --resume` after a kill inside one SendMessageBatch of the orchestrator's first segment, at
// the journal line of its third entry (kill-at-journal.mjs): the batch's other entries were sent and never
// journaled (lost with the process's queue). The copy of the segment sends the same batch again: the resend
// guard (local/resend-guard.ts) drops the entries whose keys the journal holds (put back by the resume) and
// sends the rest, answering the batch with both. Every task counted once, none requested more than twice.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { JOURNAL_FILE } from '../../../local/queue-journal.js';
import { reportOf, runCli, startCli } from './cli-process.js';
import { requestsPerId } from './wait-and-count.js';

const killAtJournal = new URL('./kill-at-journal.mjs', import.meta.url).href;

let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-send-batch-'));
  server = await startCountingServer({ delayMs: 5 });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];

describe("run --state DIR --resume, killed inside a batch of the first segment's sends", () => {
  it.each(['off', 'message'])(
    '%s: killed inside a batch of sends, its copy sends the rest, drops the journaled',
    async (mode) => {
      // Messages of one task, ten to a SendMessageBatch: killed right after the journal line of the second batch's
      // third entry, its other seven sent and never journaled. The copy's batch mixes three dropped with seven sent.
      const prefix = `b${mode[0]}`;
      const manifest = join(dir, `${prefix}.ndjson`);
      const lines = [JSON.stringify({ jobId: `edges-${prefix}` })];
      for (let i = 0; i < 30; i += 1)
        lines.push(
          JSON.stringify({ id: `${prefix}${i}`, url: `${server.url}/${prefix}${i}`, mode: 'queue' }),
        );
      await writeFile(manifest, `${lines.join('\n')}\n`);
      const state = join(dir, `state-${prefix}`);
      const limits = [
        ...['--worker-concurrency', '2', '--per-invocation-concurrency', '2', '--idempotency', mode],
        ...['--tasks-per-message', '1', '--batch-size', '1'],
      ];
      const args = [
        'run',
        '--state',
        state,
        '--manifest',
        manifest,
        '--allow-host',
        '127.0.0.1',
        ...own,
        ...limits,
      ];
      const env = {
        NODE_OPTIONS: `--import=${killAtJournal}`,
        BF_KILL_AT: JSON.stringify({ at: 'sent', body: `/${prefix}12"` }),
      };
      const first = startCli(args, env);
      expect((await first.done).signal).toBe('SIGKILL');
      const journal = await readFile(join(state, JOURNAL_FILE), 'utf8');
      expect(journal).toContain(`/${prefix}12\\"`);
      expect(journal).not.toContain('{"o":');
      const before = requestsPerId(server, prefix);
      const resumed = await runCli(['run', '--state', state, '--resume', ...own]);
      const report = reportOf(resumed);
      expect({ code: resumed.code, status: report.status, stderr: resumed.stderr }).toMatchObject({
        code: 0,
        status: 'succeeded',
      });
      const counts = [report.submitted, report.succeeded, report.deadLettered, report.invalid];
      expect([...counts, report.unfinished ?? 0]).toEqual([30, 30, 0, 0, 0]);
      const after = requestsPerId(server, prefix);
      expect(after.size).toBe(30);
      const again = [...after]
        .filter(([id, n]) => n > (before.get(id) ?? 0) && before.has(id))
        .map(([id]) => id);
      expect([...after.values()].every((n) => n <= 2)).toBe(true);
      expect(again.length).toBeLessThanOrEqual(report.resumed?.tasks ?? 0);
    },
    120_000,
  );
});
