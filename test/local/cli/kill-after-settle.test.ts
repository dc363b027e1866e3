// `run --state DIR --resume` after a kill -9 between a message's settle in the job ledger and its close in the
// queue journal: the worker settles a message in the ledger, sends its follow-ups (a retry of a failed task),
// and only once its invocation returned does the poller journal the message settled. A real child CLI, a
// loopback target counting requests per task, and a kill at an instant no test reaches from outside: the child
// kills itself with SIGKILL at a line of its own journal (kill-at-journal.mjs, preloaded with --import):
// - `sending`: just before the retry's send is journaled (the retry is in the queue, the journal says nothing):
//   as for a retry SQS refused, the message is open and settled, its retry nowhere; resumed twice, it goes once;
// - `sent`: just after it (the retry journaled open, its message still open);
// - `settled`: just before the line that closes the message (its invocation returned).
// The one task fails its first delivery (4 attempts, 503) and succeeds on its retry: 5 requests in all, however
// the run is killed and resumed. Before the resume read the ledger (local/settled-open.ts), the message went
// back as if in flight: its task ran again and its retry was sent twice, so the task was requested 6 times (in
// `task` mode too, where the retry ran beside the message's second run), or, the retry due at once, its second
// copy was found in progress and failed, holding the resume for the queue's 360 s visibility timeout (the test
// timed out). `--containers threads`
// widens the instant between a send and its journal line (the send crosses threads as a message): the same
// kills there.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../../bench/servers/counting-server.js';
import { reportOf, runCli, startCli } from './cli-process.js';

/** The preloaded module that kills the child at a line of its journal (BF_KILL_AT says which). */
const killAtJournal = new URL('./kill-at-journal.mjs', import.meta.url).href;

/** Requests per task the first delivery makes before its message is retried (runHttpTask's default attempts). */
const FIRST_DELIVERY = 4;

let dir: string;
let server: CountingServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-kill-settle-'));
  // Every task's first FIRST_DELIVERY requests answer 503 (retryable): its first delivery fails, its retry does not.
  server = await startCountingServer({
    script: (request) => {
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

type Case = readonly [mode: string, at: 'sending' | 'sent' | 'settled', containers: 'inline' | 'threads'];

const cases: Case[] = [
  ...(['off', 'message', 'task'] as const).flatMap((mode) =>
    (['sending', 'sent', 'settled'] as const).map((at) => [mode, at, 'inline'] as const),
  ),
  ['off', 'sending', 'threads'],
  ['off', 'sent', 'threads'],
  ['task', 'sent', 'threads'],
];

describe('bounded-fanout run --state DIR --resume, killed between a settle and its journal line', () => {
  it.each(cases)(
    'idempotency %s, killed at %s (%s containers): the retried task runs its two deliveries only',
    async (mode, at, containers) => {
      const name = `${mode}-${at}-${containers}`;
      const manifest = join(dir, `${name}.ndjson`);
      // The retry is due at once (the default), but killed at a send the child dies before anything receives it.
      // Killed at the close, a 1 s delay keeps it from running before the kill, while the invocation returns.
      const header = { jobId: name, limits: { retryDelaySeconds: at === 'settled' ? 1 : 0 } };
      const task = { id: 'r0', url: `${server.url}/${name}/r0`, mode: 'queue' };
      await writeFile(manifest, `${JSON.stringify(header)}\n${JSON.stringify(task)}\n`);
      const state = join(dir, `state-${name}`);
      const limits = ['--idempotency', mode, '--tasks-per-message', '1', '--containers', containers];
      // The retry's body says attempt 2; the first message's, attempt 1.
      const body = [`"attempt":${at === 'settled' ? 1 : 2}`, `/${name}/r0`];
      const first = startCli(
        ['run', '--state', state, '--manifest', manifest, '--allow-host', '127.0.0.1', ...own, ...limits],
        { NODE_OPTIONS: `--import=${killAtJournal}`, BF_KILL_AT: JSON.stringify({ at, body }) },
      );
      expect((await first.done).signal).toBe('SIGKILL');
      const requests = () => server.requests.filter((r) => r.path === `/${name}/r0`).length;
      // Killed once the first delivery had failed, settled, and sent its retry: the retry had not run.
      expect(requests()).toBe(FIRST_DELIVERY);

      const report = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
      expect([report.submitted, report.succeeded, report.deadLettered, report.unfinished ?? 0]).toEqual([
        1, 1, 0, 0,
      ]);
      // Its first delivery and its retry, once each: the message the ledger had settled ran nothing again.
      expect(requests()).toBe(FIRST_DELIVERY + 1);
      // The report: one message found settled; put back as could-run-twice, only the retry once journaled.
      expect(report.resumed).toMatchObject({ settled: 1, tasks: at === 'sending' ? 0 : 1 });
      if (at === 'sending') {
        // The retry never reached the queue (lost with the process, as one SQS refused would be): the first resume
        // sent it through the message's later receive; resumed again, nothing is open, nothing goes again.
        const again = reportOf(await runCli(['run', '--state', state, '--resume', ...own]));
        expect(again.resumed).toMatchObject({ messages: 0, tasks: 0, settled: 0 });
        expect([again.submitted, again.succeeded, requests()]).toEqual([1, 1, FIRST_DELIVERY + 1]);
      }
    },
    120_000,
  );
});
