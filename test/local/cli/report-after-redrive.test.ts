// `bounded-fanout report --job` after `bounded-fanout redrive`: the report lists where each task ended, as
// the ledger counts it. A real `serve` in a child process runs a job (invoked through its Lambda endpoint, as
// the schedule would) whose failing tasks are dead-lettered; one dead letter is sent to the DLQ a second time,
// as SQS's at-least-once send may; `redrive` moves them back to the work queue, where the tasks that now
// succeed leave `deadLettered` (each once, by its move key) and the ones that fail again stay. The result
// object, written when the run ended, still holds every first failure: the report must list only the tasks
// still dead-lettered, each once.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { resourceNames } from '../../../lib/config.js';
import type { RunRecord } from '../../../lib/ledger/run-record.js';
import { loadSharedConfig } from '../../../local/cli/shared-config.js';
import type { RunReport } from '../../../local/report/types.js';
import { waitFor } from '../fixtures/aws.js';
import { runCli } from './cli-process.js';
import type { Serve } from './run-fixture.js';
import { type ServedTarget, startServedTarget } from './served-target.js';

// The target: /f... fails (400, not retried) at its first request and succeeds after; /x... always fails, but
// its requests after the first wait for `release`, so no new dead letter reaches the DLQ while the redrive runs
// (a redrive moves only what the DLQ held at its start: test/local/cli/redrive-refailing.test.ts).
const seen = new Map<string, number>();
let release: () => void = () => {};
const released = new Promise<void>((resolve) => {
  release = resolve;
});
function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  const n = (seen.get(path) ?? 0) + 1;
  seen.set(path, n);
  const reply = (status: number) => res.writeHead(status).end(String(status));
  if (!path.startsWith('/x')) reply(path.startsWith('/f') && n === 1 ? 400 : 200);
  else if (n === 1) reply(400);
  else void released.then(() => reply(400));
}

const _names = resourceNames(loadSharedConfig());
let dir: string;
let served: ServedTarget;
let serve: Serve;
let targetUrl: string;
let clients: ServedTarget['clients'];
let ledger: JobLedgerTable;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-redrive-report-'));
  served = await startServedTarget(answer);
  ({ serve, targetUrl, clients, ledger } = served);
}, 60_000);

afterAll(async () => {
  release();
  await served?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const run = () => ledger.getRun('rd', 'r1');
const counts = (r: RunRecord | undefined) => [r?.succeeded, r?.deadLettered, r?.undeliverable];

const deadLetterQueueUrl = () => served.deadLetterQueueUrl();

/** The dead letters in the DLQ (left visible), as the task ids each holds. */
async function deadLetters(): Promise<{ body: string; ids: string[] }[]> {
  const out = new Map<string, { body: string; ids: string[] }>();
  const QueueUrl = await deadLetterQueueUrl();
  for (let i = 0; i < 5; i++) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
    );
    for (const m of Messages) {
      const ids = (JSON.parse(m.Body!) as { tasks: { task: { id: string } }[] }).tasks.map((t) => t.task.id);
      out.set(m.MessageId!, { body: m.Body!, ids });
    }
  }
  return [...out.values()];
}

describe('report --job after redrive', () => {
  it('lists only the tasks still dead-lettered, each once, as the ledger counts them', async () => {
    const tasks = ['f1', 'f2', 'f3', 'f4', 'x5', 'ok6', 'ok7', 'x8'].map((id, i) => ({
      id,
      url: `${targetUrl}/${id}`,
      mode: i % 2 ? 'queue' : 'inline',
    }));
    expect(counts(await served.runJob({ jobId: 'rd', runId: 'r1', tasks }))).toEqual([2, 6, 0]);
    // A second copy of the dead letter holding f1, as a send retried after a lost reply leaves it.
    const letters = await deadLetters();
    expect(letters.flatMap((l) => l.ids).sort()).toEqual(['f1', 'f2', 'f3', 'f4', 'x5', 'x8']);
    const QueueUrl = await deadLetterQueueUrl();
    const copied = letters.find((l) => l.ids.includes('f1'))!;
    await clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: copied.body }));

    const where = ['--endpoint', serve.endpoint];
    const redriven = await runCli(['redrive', ...where, '--format', 'json']);
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(JSON.parse(redriven.stdout)).toMatchObject({ moved: letters.length + 1 });
    // The redrive is over: x5 and x8 may fail again now (a dead letter's message settles once all its tasks end).
    release();
    // Each of f1..f4 leaves `deadLettered` once, whichever copy of its dead letter ran it; x5 and x8 are
    // dead-lettered anew and stay counted, once each.
    await waitFor(async () => (await run())?.succeeded === 6, 'the redriven tasks to settle');
    await waitFor(
      async () =>
        new Set((await deadLetters()).flatMap((l) => l.ids).filter((id) => id.startsWith('x'))).size === 2,
      'x5 and x8 dead-lettered again',
    );
    expect(counts(await run())).toEqual([6, 2, 0]);

    const json = join(dir, 'after-redrive.json');
    const html = join(dir, 'after-redrive.html');
    const report = await runCli(['report', ...where, '--job', 'rd', '--report', json, '--report', html]);
    expect(report.code, report.stderr).toBe(1);
    const rebuilt = JSON.parse(await readFile(json, 'utf8')) as RunReport;
    expect([rebuilt.succeeded, rebuilt.deadLettered]).toEqual([6, 2]);
    expect(rebuilt.deadLetteredTasks.map((t) => t.id).sort()).toEqual(['x5', 'x8']);
    expect(rebuilt.deadLetteredTasks.every((t) => t.error.includes('400'))).toBe(true);
    expect(await readFile(html, 'utf8')).toContain('Dead-lettered tasks (2)');
  }, 120_000);
});
