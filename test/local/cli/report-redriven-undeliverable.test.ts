// `bounded-fanout report --job` after a redrive in which a dead-lettered task ends `undeliverable`: the ledger
// moves it from `deadLettered` to `undeliverable` (its move key), and the report must still list it, once,
// with its last error (the redrive's failure and why its new dead letter was refused), so that the listed
// tasks agree with the counts. The refusal is SQS's own: once the run has dead-lettered its tasks, the DLQ is
// given the smallest MaximumMessageSize SQS allows (1,024 bytes), and the task `big`, whose URL alone is
// longer, can no longer be dead-lettered. A real `serve` in a child process, the CLI as a user runs it.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../../lib/ledger/run-record.js';
import { queueDepth } from '../../../local/queue-depth.js';
import type { RunReport } from '../../../local/report/types.js';
import { waitFor } from '../fixtures/aws.js';
import { runCli } from './cli-process.js';
import { type ServedTarget, startServedTarget } from './served-target.js';

// Every task but `ok` fails for good (404: not retried; one receive: dead-lettered at once), each time.
function answer(req: IncomingMessage, res: ServerResponse): void {
  const ok = (req.url ?? '').startsWith('/ok');
  res.writeHead(ok ? 200 : 404).end(ok ? 'ok' : 'gone');
}

let dir: string;
let served: ServedTarget;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-redrive-undeliverable-'));
  served = await startServedTarget(answer);
}, 60_000);

afterAll(async () => {
  await served?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const counts = (r: RunRecord | undefined) => ({
  succeeded: r?.succeeded,
  deadLettered: r?.deadLettered,
  undeliverable: r?.undeliverable,
});

describe('report --job after a redrive that ends a task undeliverable', () => {
  it('lists the undeliverable task once, with its last error; the listed tasks agree with the counts', async () => {
    const { serve, targetUrl, ledger, clients } = served;
    const tasks = [
      { id: 'big', url: `${targetUrl}/big?pad=${'p'.repeat(1_500)}`, mode: 'queue' },
      { id: 'small', url: `${targetUrl}/small`, mode: 'queue' },
      { id: 'ok', url: `${targetUrl}/ok`, mode: 'inline' },
    ];
    const ended = await served.runJob({ jobId: 'und', runId: 'r1', tasks });
    expect(counts(ended)).toEqual({ succeeded: 1, deadLettered: 2, undeliverable: 0 });

    const deadLetterQueueUrl = await served.deadLetterQueueUrl();
    const letters = (await queueDepth(clients.sqs, deadLetterQueueUrl)).total;
    expect(letters).toBeGreaterThan(0);
    await clients.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: deadLetterQueueUrl,
        Attributes: { MaximumMessageSize: '1024' },
      }),
    );
    const where = ['--endpoint', serve.endpoint];
    const redriven = await runCli(['redrive', ...where, '--format', 'json']);
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(JSON.parse(redriven.stdout)).toMatchObject({ moved: letters });
    // `big` fails again and its new dead letter is refused: it moves to `undeliverable`, once; `small` fails
    // again and is dead-lettered anew, still counted once.
    await waitFor(async () => (await ledger.getRun('und', 'r1'))?.undeliverable === 1, 'big undeliverable');
    const record = await ledger.getRun('und', 'r1');
    expect(counts(record)).toEqual({ succeeded: 1, deadLettered: 1, undeliverable: 1 });

    const json = join(dir, 'report.json');
    const report = await runCli(['report', ...where, '--job', 'und', '--report', json]);
    expect(report.code, report.stderr).toBe(1);
    const rebuilt = JSON.parse(await readFile(json, 'utf8')) as RunReport;
    expect(counts(rebuilt as unknown as RunRecord)).toEqual(counts(record));
    const listed = rebuilt.deadLetteredTasks.map((t) => t.id).sort();
    expect(listed).toEqual(['big', 'small']);
    expect(listed).toHaveLength(rebuilt.deadLettered + (rebuilt.undeliverable ?? 0));
    const big = rebuilt.deadLetteredTasks.find((t) => t.id === 'big')!;
    // Its last error: the redrive's 404, and the DLQ's refusal of its new dead letter.
    expect(big.error).toMatch(/404/);
    expect(big.error).toMatch(/not delivered to the DLQ: .*1024/);
    expect(JSON.stringify(rebuilt.runtime)).toMatch(/\.ndjson and \d+ redrive part object\(s\)/);
  }, 120_000);
});
