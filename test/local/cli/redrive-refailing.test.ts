// `bounded-fanout redrive` against a running `serve` whose target fails every task again at once (404, not
// retried, one receive): each redriven task's new dead letter lands in the DLQ while the redrive is still
// draining it. The redrive must move the dead letters that were there when it started, once each, and end;
// the new ones stay in the DLQ for the next redrive. Before the fix it moved them again and again and never
// ended, so the test's own guard stops it: a task hit more often than one move allows kills the redrive.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { resourceNames } from '../../../lib/config.js';
import { loadSharedConfig } from '../../../local/cli/shared-config.js';
import { queueDepth } from '../../../local/queue-depth.js';
import { waitFor } from '../fixtures/aws.js';
import { type CliResult, startCli } from './cli-process.js';
import type { Serve } from './run-fixture.js';
import { type ServedTarget, startServedTarget } from './served-target.js';

const TASKS = ['t1', 't2', 't3', 't4', 't5', 't6'];

// The target: every request is a 404, counted by path. `cap` is the most requests a task may get; one past
// it means a dead letter was moved again, and `overrun` stops the redrive under way.
const hits = new Map<string, number>();
let cap = 1;
let overrun: (() => void) | undefined;
function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  const n = (hits.get(path) ?? 0) + 1;
  hits.set(path, n);
  if (n > cap) overrun?.();
  res.writeHead(404).end('404');
}
const hitsByTask = () => TASKS.map((id) => hits.get(`/${id}`) ?? 0);
const totalHits = () => hitsByTask().reduce((a, b) => a + b, 0);

const names = resourceNames(loadSharedConfig());
let served: ServedTarget;
let serve: Serve;
let targetUrl: string;
let clients: ServedTarget['clients'];
let ledger: JobLedgerTable;

beforeAll(async () => {
  served = await startServedTarget(answer);
  ({ serve, targetUrl, clients, ledger } = served);
}, 60_000);

afterAll(async () => {
  overrun = undefined;
  await served?.close();
});

const run = () => ledger.getRun('again', 'r1');

/** The DLQ's messages, visible or not. */
async function deadLetterDepth(): Promise<number> {
  const { visible, inFlight } = await queueDepth(clients.sqs, await served.deadLetterQueueUrl());
  return visible + inFlight;
}

/** A redrive through the CLI, killed by the guard once any task is hit more than `maxHits` times. */
async function guardedRedrive(maxHits: number): Promise<{ result: CliResult; overran: boolean }> {
  let overran = false;
  const cli = startCli(['redrive', '--endpoint', serve.endpoint]);
  cap = maxHits;
  overrun = () => {
    overran = true;
    cli.child.kill('SIGKILL');
  };
  const result = await cli.done;
  overrun = undefined;
  return { result, overran };
}

/** Once the redriven tasks have failed again and their new dead letters are in the DLQ. */
async function settled(hitsEach: number, letters: number): Promise<void> {
  await waitFor(
    async () => totalHits() >= TASKS.length * hitsEach && (await deadLetterDepth()) === letters,
    `each task hit ${hitsEach} times and ${letters} dead letters in the DLQ`,
  );
}

describe('redrive while the redriven tasks fail again at once', () => {
  it('moves each dead letter present at start once and ends; the new dead letters wait for the next redrive', async () => {
    const tasks = TASKS.map((id, i) => ({ id, url: `${targetUrl}/${id}`, mode: i % 2 ? 'queue' : 'inline' }));
    await served.runJob({ jobId: 'again', runId: 'r1', tasks });
    const letters = await deadLetterDepth();
    expect(letters).toBeGreaterThan(0);
    expect(hitsByTask()).toEqual([1, 1, 1, 1, 1, 1]);

    for (const round of [2, 3]) {
      const { result, overran } = await guardedRedrive(round);
      expect(overran, `redrive ${round - 1} moved a dead letter again (hits ${hitsByTask()})`).toBe(false);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(
        `Moved ${letters} message${letters === 1 ? '' : 's'} from ${names.deadLetterQueue} to ${names.queue} (receive-and-resend).\n`,
      );
      expect(result.code).toBe(0);
      await settled(round, letters);
      expect(hitsByTask()).toEqual(TASKS.map(() => round));
      // Dead-lettered again, each still counted once.
      expect([(await run())?.succeeded, (await run())?.deadLettered]).toEqual([0, TASKS.length]);
    }
  }, 120_000);
});
