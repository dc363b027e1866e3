// `run --state DIR --resume` after a kill -9 in the middle of a settled message's follow-ups: its retry sent and
// journaled, its dead letter not yet sent nor counted. The message is open in the journal and settled in the
// ledger, its retry open and unsettled. The resume puts the message back as a later receive (its dead letter is
// owed), whose worker sends what its settle kept: the retry again, the same body. Before the resume closed the
// retry's own open copy (local/settled-open.ts `superseded`), both copies went: in `off` mode the retried task
// ran twice (6 requests, not 5), and in `message` and `task` modes the copy found in progress beside the other
// failed and held the resume for the queue's visibility timeout (360 s: the test timed out). Twice resumed (the
// resume killed in turn once it had put the message back), the retry it closed is not taken for sent: the
// message goes back again and its retry goes out once. A real child CLI killed with SIGKILL at a line of its
// own journal (kill-at-journal.mjs), and a loopback target counting requests per task.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { reportOf, runCli, startCli } from './cli-process.js';

const killAtJournal = new URL('./kill-at-journal.mjs', import.meta.url).href;
/** Requests the first delivery makes of the retried task (runHttpTask's default attempts). */
const FIRST_DELIVERY = 4;

let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-partial-'));
  // `r0` answers its first delivery 503 (retried, then 200); `d0` answers 400 (dead-lettered at once).
  server = await startCountingServer({
    script: (request) => {
      if (request.path.endsWith('/d0')) return { status: 400 };
      const seen = server.requests.filter((r) => r.path === request.path).length;
      return seen <= FIRST_DELIVERY ? { status: 503 } : undefined;
    },
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const own = ['--format', 'json', '--listen', '127.0.0.1:0'];

/** The child kills itself right after the first journal line of a message whose body holds every `body`. */
const killedAt = (body: readonly string[]) => ({
  NODE_OPTIONS: `--import=${killAtJournal}`,
  BF_KILL_AT: JSON.stringify({ at: 'sent', body }),
});

type Case = readonly [mode: string, containers: 'inline' | 'threads', resumes: 1 | 2];
const cases: Case[] = [
  ['off', 'inline', 1],
  ['message', 'inline', 1],
  ['task', 'inline', 1],
  ['off', 'threads', 1],
  ['off', 'inline', 2],
  ['message', 'inline', 2],
];

describe('bounded-fanout run --state DIR --resume, killed between a settled message’s follow-ups', () => {
  it.each(cases)(
    'idempotency %s (%s containers, resumed %i times): the retry runs once, the dead letter counts once',
    async (mode, containers, resumes) => {
      const name = `partial-${mode}-${containers}-${resumes}`;
      const manifest = join(dir, `${name}.ndjson`);
      const lines = [
        { jobId: name, limits: { retryDelaySeconds: 0 } },
        ...['r0', 'd0'].map((id) => ({ id, url: `${server.url}/${name}/${id}`, mode: 'queue' })),
      ];
      await writeFile(manifest, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const state = join(dir, `state-${name}`);
      const limits = ['--idempotency', mode, '--tasks-per-message', '2', '--containers', containers];
      const args = ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1'];
      // Killed once the retry's send is journaled: the dead letter, after it, not sent nor counted.
      const first = startCli([...args, ...own, ...limits], killedAt(['"attempt":2', `/${name}/r0`]));
      expect((await first.done).signal).toBe('SIGKILL');
      const requests = (id: string) => server.requests.filter((r) => r.path === `/${name}/${id}`).length;
      expect([requests('r0'), requests('d0')]).toEqual([FIRST_DELIVERY, 1]);
      if (resumes === 2) {
        // The resume killed once it sent the message back (its retry's open copy closed before that).
        const again = startCli(['run', '--state', state, '--resume', ...own], killedAt([`/${name}/d0`]));
        expect((await again.done).signal).toBe('SIGKILL');
      }

      const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
      expect([report.submitted, report.succeeded, report.deadLettered, report.unfinished ?? 0]).toEqual([
        2, 1, 1, 0,
      ]);
      expect([requests('r0'), requests('d0')]).toEqual([FIRST_DELIVERY + 1, 1]);
      // The message found settled and sent back alone; the retry's task, queued at the kill, counted as such.
      expect(report.resumed).toMatchObject({ settled: 1, messages: 1, tasks: resumes === 1 ? 1 : 0 });
    },
    120_000,
  );
});
