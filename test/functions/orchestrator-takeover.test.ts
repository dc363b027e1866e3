// The takeover of a segment in progress (functions/segment-heartbeat.ts), from an adversarial review: a wrong guess beside a live holder whose beats fail,
// a later delivery after a takeover, and the heartbeat stopping with its segment. Through the real handler,
// containers of their own on the backend's real tables, a real 127.0.0.1 target.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { MISSED_BEATS } from '../../functions/segment-heartbeat.js';
import { SegmentBeats } from '../../lib/aws/segment-beats.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { orchestratorContainers } from './orchestrator-containers.js';

quietPowertools();

const BEAT_MS = 200;
/** A `/slow/` path's first request is answered this late; later ones at once. */
const SLOW_MS = 2_500;

let h: Harness;
let server: CountingServer;
const containers = orchestratorContainers(() => h);
const container = containers.container;

/** Cuts the container's DynamoDB calls that `cut` says so of. */
function cutCalls(runtime: FunctionRuntime, cut: (command: string, input: unknown) => boolean): void {
  runtime.aws.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      if (cut(String(context.commandName), args.input)) throw new Error('call cut');
      return next(args);
    },
    { step: 'initialize', name: 'review-cut' },
  );
}
const isBeat = (command: string, input: unknown) =>
  command === 'PutItemCommand' && JSON.stringify(input).includes('beat#');

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  const seen = new Set<string>();
  const slow2 = new Map<string, number>();
  server.script((req) => {
    if (req.path.includes('/slow2/')) {
      const n = (slow2.get(req.path) ?? 0) + 1;
      slow2.set(req.path, n);
      return n <= 2 ? { delayMs: SLOW_MS } : undefined;
    }
    if (!req.path.includes('/slow/') || seen.has(req.path)) return undefined;
    seen.add(req.path);
    return { delayMs: SLOW_MS };
  });
  h = await startHarness({ deadlineMarginMs: 1000, segmentHeartbeatMs: BEAT_MS });
});
afterAll(async () => {
  await server?.close();
  await containers.destroy();
  h?.destroy();
});

const tasksOf = (jobId: string) => [
  { id: `${jobId}-i0`, url: `${server.url}/slow/${jobId}-i0`, mode: 'inline' },
  { id: `${jobId}-i1`, url: `${server.url}/${jobId}-i1`, mode: 'inline' },
  { id: `${jobId}-i2`, url: `${server.url}/${jobId}-i2`, mode: 'inline' },
];
const hits = (path: string) => server.requests.filter((r) => r.path === path).length;
async function reached(path: string): Promise<void> {
  for (let i = 0; i < 500 && hits(path) === 0; i++) await sleep(10);
  expect(hits(path)).toBe(1);
}

describe('the takeover, reviewed', () => {
  it('beside a live holder whose beats fail: both run, the run counts each task once and ends once', async () => {
    const jobId = 'live-unbeating';
    const requestId = 'live-unbeating-1';
    const holder = await container();
    const held = holder.orchestrator(
      { jobId, tasks: tasksOf(jobId) },
      fakeContext(() => 300_000, requestId),
    );
    await reached(`/slow/${jobId}-i0`);
    // Its first beat landed; from now on its beats fail (throttled), its other calls go through.
    cutCalls(holder.runtime, isBeat);
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    const copy = await (await container()).orchestrator(
      { jobId, tasks: tasksOf(jobId) },
      fakeContext(() => 300_000, requestId),
    );
    expect(copy.status).toBe('succeeded');
    // The holder lives on and finishes: its settle does not count, it follows the copy's end.
    expect((await held).status).toBe('duplicate');
    const run = await holder.runtime.ledger!.getRun(jobId, requestId);
    expect(run).toMatchObject({ status: 'succeeded', submitted: 3, succeeded: 3 });
    expect([0, 1, 2].map((i) => hits(`${i === 0 ? '/slow' : ''}/${jobId}-i${i}`))).toEqual([2, 2, 2]);
  });

  it('a delivery after a takeover finds the settle and runs nothing; the heartbeat stopped with the segment', async () => {
    const jobId = 'after-takeover';
    const requestId = 'after-takeover-1';
    const holder = await container();
    const held = holder.orchestrator(
      { jobId, tasks: tasksOf(jobId) },
      fakeContext(() => 300_000, requestId),
    );
    await reached(`/slow/${jobId}-i0`);
    cutCalls(holder.runtime, () => true);
    void held.catch(() => undefined);
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    const taker = await container();
    const taken = await taker.orchestrator(
      { jobId, tasks: tasksOf(jobId) },
      fakeContext(() => 300_000, requestId),
    );
    expect(taken.status).toBe('succeeded');
    const beats = new SegmentBeats(taker.runtime.aws.dynamodb, { tableName: h.resources.jobTable });
    const last = await beats.lastBeat({ jobId, runId: requestId, segment: 0 });
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    // No beat after the segment ended.
    expect(await beats.lastBeat({ jobId, runId: requestId, segment: 0 })).toBe(last);
    const before = server.requests.length;
    const late = await (await container()).orchestrator(
      { jobId, tasks: tasksOf(jobId) },
      fakeContext(() => 300_000, requestId),
    );
    expect(late.status).toBe('duplicate');
    expect(server.requests.length).toBe(before);
    const run = await taker.runtime.ledger!.getRun(jobId, requestId);
    expect(run).toMatchObject({ status: 'succeeded', submitted: 3, succeeded: 3 });
  });

  it('a copy after the dead holder’s deadline runs beside a live taking-over copy (not a duplicate); counts stay exact', async () => {
    const jobId = 'past-deadline';
    const requestId = 'past-deadline-1';
    const tasks = [
      { id: `${jobId}-i0`, url: `${server.url}/slow2/${jobId}-i0`, mode: 'inline' },
      { id: `${jobId}-i1`, url: `${server.url}/${jobId}-i1`, mode: 'inline' },
    ];
    const holder = await container();
    // The holder's record is in progress until its deadline, 1.5 s on (Powertools' in-progress expiry).
    let left = 1_500;
    const start = Date.now();
    const held = holder.orchestrator(
      { jobId, tasks },
      fakeContext(() => left - (Date.now() - start), requestId),
    );
    void held.catch(() => undefined);
    await reached(`/slow2/${jobId}-i0`);
    cutCalls(holder.runtime, () => true);
    left = 300_000; // the cut holder is not to stop at its deadline: it is dead
    await sleep(BEAT_MS * (MISSED_BEATS + 2));
    const taking = (await container()).orchestrator(
      { jobId, tasks },
      fakeContext(() => 300_000, requestId),
    );
    for (let i = 0; i < 500 && hits(`/slow2/${jobId}-i0`) < 2; i++) await sleep(10);
    expect(hits(`/slow2/${jobId}-i0`)).toBe(2);
    await sleep(BEAT_MS * 2);
    // Past the holder's deadline, however fast the steps above went (Powertools' in-progress expiry).
    await sleep(Math.max(0, start + 1_500 + BEAT_MS - Date.now()));
    // The taking-over copy is alive and beating, but the record it runs under is the dead holder's, past its
    // deadline: Powertools lets the next copy in, and it runs the segment without looking at the beats.
    const late = await container();
    const third = await late.orchestrator(
      { jobId, tasks },
      fakeContext(() => 300_000, requestId),
    );
    expect(third.status).toBe('succeeded');
    expect(hits(`/slow2/${jobId}-i0`)).toBe(3);
    // The taking-over copy's settle did not count: it follows the third's end. Each task counted once.
    expect((await taking).status).toBe('duplicate');
    const run = await late.runtime.ledger?.getRun(jobId, requestId);
    expect(run).toMatchObject({ status: 'succeeded', submitted: 2, succeeded: 2 });
  });
});
