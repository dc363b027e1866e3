// An orchestrator attempt killed hard (out of memory, the process gone: no JavaScript error, so Powertools never
// deletes the segment's idempotency record) leaves that record in progress until the attempt's own deadline.
// Lambda's retries come 1 and 3 minutes later, inside that deadline. Before, they found it in progress and
// answered `duplicate`, a success: nothing ran the segment, no failure was reported, the run stayed `running` for
// ever. Now a running segment beats (functions/segment-heartbeat.ts), and a retry that finds the holder has
// missed its beats runs the segment itself; one beside a live holder is still a duplicate. Through the real
// orchestrator handler, two containers on the backend's real tables, a real 127.0.0.1 target whose `/stall/`
// paths leave a task's first request unanswered (the holder is mid-segment when it "dies").
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountingServer } from '../../bench/servers/counting-server.js';
import { MISSED_BEATS } from '../../functions/segment-heartbeat.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { type Orchestrator, orchestratorContainers } from './orchestrator-containers.js';
import { startStallingServer } from './stalling-server.js';

quietPowertools();

/** Short beats, so a dead holder is told in a test's time. */
const BEAT_MS = 200;

let h: Harness;
let server: CountingServer;
const containers = orchestratorContainers(() => h);
const container = containers.container;

beforeAll(async () => {
  server = await startStallingServer();
  h = await startHarness({ deadlineMarginMs: 1000, segmentHeartbeatMs: BEAT_MS });
});
afterAll(async () => {
  await server?.close();
  await containers.destroy();
  h?.destroy();
});

const tasksOf = (jobId: string) => [
  { id: `${jobId}-i0`, url: `${server.url}/stall/${jobId}-i0`, mode: 'inline' },
  { id: `${jobId}-i1`, url: `${server.url}/${jobId}-i1`, mode: 'inline' },
];
const hits = (path: string) => server.requests.filter((r) => r.path === path).length;

/** Starts the holder's attempt and waits until it is mid-segment: its stalled request reached the target. */
async function holding(orchestrator: Orchestrator, jobId: string, requestId: string): Promise<void> {
  void orchestrator(
    { jobId, tasks: tasksOf(jobId) },
    fakeContext(() => 300_000, requestId),
  ).catch(() => undefined);
  for (let i = 0; i < 500 && hits(`/stall/${jobId}-i0`) === 0; i++) await sleep(10);
  expect(hits(`/stall/${jobId}-i0`)).toBe(1);
}

describe('an orchestrator attempt killed hard', () => {
  it('is taken over by Lambda’s retry once it has missed its beats: the segment runs, not answered duplicate', async () => {
    const requestId = 'hard-kill-1';
    const holder = await container();
    await holding(holder.orchestrator, 'hard-kill', requestId);
    // Its process dies: from now on none of its calls goes out, so it beats no more (its record stays in progress).
    holder.runtime.aws.dynamodb.middlewareStack.add(
      () => async () => {
        throw new Error('the process is gone');
      },
      { step: 'initialize', name: 'process-gone' },
    );
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    // Lambda's retry of the same event (same request id: the same run), in a container of its own.
    const retry = await (await container()).orchestrator(
      { jobId: 'hard-kill', tasks: tasksOf('hard-kill') },
      fakeContext(() => 300_000, requestId),
    );
    expect(retry.status).toBe('succeeded');
    // The retry ran the segment again: i0 a second time (its first request was never answered), and i1, which
    // the dead holder had run beside it, too: a dead copy's work is not known to have counted.
    expect(hits('/stall/hard-kill-i0')).toBe(2);
    expect(hits('/hard-kill-i1')).toBe(2);
  });

  it('is taken over when it died just after claiming the segment, before its own first beat', async () => {
    const requestId = 'claim-kill-1';
    const tasks = ['a', 'b'].map((t) => ({
      id: `claim-kill-${t}`,
      url: `${server.url}/claim-kill-${t}`,
      mode: 'inline',
    }));
    const holder = await container();
    // Its process dies the moment its claim (the segment's idempotency record) is written: every call after it,
    // its own first beat and the deletion of the record included, never goes out.
    let claimed = false;
    holder.runtime.aws.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        if (claimed) throw new Error('the process is gone');
        const out = await next(args);
        const table = (args.input as { TableName?: string }).TableName;
        claimed = context.commandName === 'PutItemCommand' && table === h.resources.idempotencyTable;
        return out;
      },
      { step: 'initialize', name: 'gone-after-claim' },
    );
    await expect(
      holder.orchestrator(
        { jobId: 'claim-kill', tasks },
        fakeContext(() => 300_000, requestId),
      ),
    ).rejects.toThrow(); // Powertools' failure to delete its record, after the segment's first call failed.
    expect(claimed).toBe(true);
    expect(hits('/claim-kill-a') + hits('/claim-kill-b')).toBe(0);
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    const retry = await (await container()).orchestrator(
      { jobId: 'claim-kill', tasks },
      fakeContext(() => 300_000, requestId),
    );
    // Before, no beat was ever written: the holder counted as alive, and the retry answered `duplicate`.
    expect(retry.status).toBe('succeeded');
    expect(hits('/claim-kill-a')).toBe(1);
    expect(hits('/claim-kill-b')).toBe(1);
  });

  it('never claims the segment with no beat written: its first beat throttled, it fails before the claim, and Lambda’s retry runs it', async () => {
    const requestId = 'beat-throttled-1';
    const jobId = 'beat-throttled';
    const tasks = ['a', 'b'].map((t) => ({
      id: `${jobId}-${t}`,
      url: `${server.url}/${jobId}-${t}`,
      mode: 'inline',
    }));
    const holder = await container();
    // The job table throttles its first beat (the conditional put), and its process dies the moment its claim is
    // written, as in the test above. Before, the throttled beat was only logged: the holder claimed with no beat,
    // died, and Lambda's retry wrote its own first beat, read it as the holder's, answered `duplicate` (a
    // success: no retry after it, no report) and the run stayed running for ever.
    let claimed = false;
    let throttled = 0;
    holder.runtime.aws.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        if (claimed) throw new Error('the process is gone');
        const input = args.input as { TableName?: string; ConditionExpression?: string };
        if (context.commandName === 'PutItemCommand' && input.TableName === h.resources.jobTable) {
          throttled++;
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
            name: 'ThrottlingException',
          });
        }
        const out = await next(args);
        claimed =
          context.commandName === 'PutItemCommand' && input.TableName === h.resources.idempotencyTable;
        return out;
      },
      { step: 'initialize', name: 'beat-throttled' },
    );
    const held = await holder
      .orchestrator(
        { jobId, tasks },
        fakeContext(() => 300_000, requestId),
      )
      .then(
        () => 'returned',
        (error: Error) => error.message,
      );
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    const retry = await (await container()).orchestrator(
      { jobId, tasks },
      fakeContext(() => 300_000, requestId),
    );
    expect(retry.status).toBe('succeeded');
    // The holder's attempt failed on its beat (Lambda retries it), before any claim.
    expect(held).toMatch(/allowed throughput/);
    expect(throttled).toBeGreaterThan(0);
    expect(claimed).toBe(false);
    expect(hits(`/${jobId}-a`)).toBe(1);
    expect(hits(`/${jobId}-b`)).toBe(1);
  });

  it('beside a live holder (it beats), a second delivery is still a duplicate, and runs nothing', async () => {
    const requestId = 'live-holder-1';
    const holder = await container();
    await holding(holder.orchestrator, 'live-holder', requestId);
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    const second = await (await container()).orchestrator(
      { jobId: 'live-holder', tasks: tasksOf('live-holder') },
      fakeContext(() => 300_000, requestId),
    );
    expect(second.status).toBe('duplicate');
    // Only the holder's requests: the duplicate sent none.
    expect(hits('/stall/live-holder-i0')).toBe(1);
    expect(hits('/live-holder-i1')).toBe(1);
  });
});
