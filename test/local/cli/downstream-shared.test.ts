// Issue 17 end to end: `bounded-fanout run --downstream FILE` (a real subprocess on the local runtime) against a
// loopback partner that answers 429 above its capacity and logs every request's start and end. "Held at once"
// is the most requests the partner had open together, 429s included, from its own log: a fleet that sent
// beyond the cap would show both a peak above it and 429s.
//
// The static share, and the shared runs (`shared: true` hosts: the fleet's lease store, locally on dynalite).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CapacityServer,
  type ServedRequest,
  startCapacityServer,
} from '../../../bench/servers/capacity-server.js';
import type { RunReport } from '../../../local/report/types.js';
import { runCli } from './cli-process.js';

const SERVICE_MS = 100;
/**
 * The utilisation run holds each request longer: with 100 ms a loaded machine (the full suite, 2 cores) starts the
 * next request late enough that the partner saw 22 open at the peak though the fleet held all 30 permits.
 */
const UTILISATION_SERVICE_MS = 300;
let dir: string;
let server: CapacityServer | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-downstream-shared-'));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The most requests open at once in the partner's log (a request ending as another starts is not counted twice). */
function peakHeld(log: readonly ServedRequest[]): number {
  // At one instant: ends of earlier requests first, then starts, then the ends of requests answered at once
  // (a 429 that started and ended in that instant was held in it).
  const edges = log.flatMap((r) => [
    { at: r.start, step: 1, rank: 1 },
    { at: r.end, step: -1, rank: r.end === r.start ? 2 : 0 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.rank - b.rank);
  let open = 0;
  let peak = 0;
  for (const { step } of edges) {
    open += step;
    peak = Math.max(peak, open);
  }
  return peak;
}

interface SharedRun {
  readonly code: number | null;
  readonly stderr: string;
  readonly report?: RunReport;
  readonly peak: number;
  readonly rejected: number;
}

/** Runs `tasks` queue tasks against a partner of capacity `cap`, with `limits` for it in a --downstream file. */
async function runAgainst(
  name: string,
  cap: number,
  tasks: number,
  limits: object,
  serviceMs = SERVICE_MS,
): Promise<SharedRun> {
  server = await startCapacityServer({ concurrency: cap, serviceMs, retryAfter: '1' });
  const manifest = join(dir, `${name}.ndjson`);
  const lines = [JSON.stringify({ jobId: name })];
  for (let i = 0; i < tasks; i++)
    lines.push(JSON.stringify({ id: `t${i}`, url: `${server.origin}/t${i}`, mode: 'queue' }));
  await writeFile(manifest, lines.join('\n'));
  const downstream = join(dir, `${name}.downstream.json`);
  await writeFile(downstream, JSON.stringify({ [server.host]: limits }));
  const result = await runCli([
    'run',
    '--manifest',
    manifest,
    '--downstream',
    downstream,
    '--allow-host',
    '127.0.0.1',
    '--format',
    'json',
  ]);
  const report = result.stdout.startsWith('{') ? (JSON.parse(result.stdout) as RunReport) : undefined;
  return {
    code: result.code,
    stderr: result.stderr,
    report,
    peak: peakHeld(server.log),
    rejected: server.log.filter((r) => r.status === 429).length,
  };
}

describe('peakHeld', () => {
  it('counts the requests open together, 429s included', () => {
    const at = (start: number, end: number, status = 200) => ({ start, end, status });
    expect(peakHeld([])).toBe(0);
    expect(peakHeld([at(0, 10), at(5, 15), at(10, 20), at(12, 12, 429)])).toBe(3);
    expect(peakHeld([at(0, 10), at(10, 20)])).toBe(1);
  });
});

describe('run --downstream: a host held by its static share', () => {
  it('refuses a cap of 12 under 15 processes without shared, naming the host: exit 2', async () => {
    const run = await runAgainst('refused', 12, 1, { maxConcurrency: 12 });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `downstream["${server!.host}"].maxConcurrency: 12 is below 15 processes (14 workers + 1 orchestrator) x 1 request each = 15`,
    );
    expect(server!.log).toEqual([]);
  }, 60_000);

  it('holds a cap of 30 to 2 per busy worker: 6 with three workers busy, never a 429', async () => {
    const run = await runAgainst('static', 30, 600, { maxConcurrency: 30 });
    expect([run.code, run.stderr]).toEqual([0, run.stderr]);
    expect(run.report).toMatchObject({ submitted: 600, succeeded: 600, deadLettered: 0 });
    expect(run.rejected).toBe(0);
    // floor(30 / 15) = 2 per process. 600 tasks are 24 messages of 25, batches of 10: 3 worker invocations
    // busy, 6 at most (measured: 6): the other 24 permits of the cap sit idle in processes that have no work.
    expect(run.peak).toBeLessThanOrEqual(6);
  }, 180_000);
});

describe('run --downstream with shared: true (fleet leases)', () => {
  // Once skipped: in the CI run of 6 December 2026 under full-suite load the partner answered 2 requests with
  // 429. Cause: store calls slower than storeTimeoutMs (2 s) sent a process to its static share (2) on top of
  // the permits the fleet held on leases, and a give-back let requests start on the permits it was returning.
  // Both fixed (lib/downstream/shared-host.ts, fleet-lease.ts; test/lib/downstream/shared-host-races.test.ts).
  it('uses at least 0.9 x a cap of 30 in a queue-only run, never above it, never a 429', async () => {
    const limits = { maxConcurrency: 30, shared: true };
    const run = await runAgainst('shared30', 30, 900, limits, UTILISATION_SERVICE_MS);
    expect([run.code, run.stderr]).toEqual([0, run.stderr]);
    expect(run.report).toMatchObject({ submitted: 900, succeeded: 900, deadLettered: 0 });
    expect(run.rejected).toBe(0);
    expect(run.peak).toBeLessThanOrEqual(30);
    expect(run.peak).toBeGreaterThanOrEqual(27);
  }, 300_000);

  it('accepts a cap of 12 under 15 processes and holds exactly 12 at its peak', async () => {
    const run = await runAgainst('shared12', 12, 600, { maxConcurrency: 12, shared: true });
    expect([run.code, run.stderr]).toEqual([0, run.stderr]);
    expect(run.report).toMatchObject({ submitted: 600, succeeded: 600, deadLettered: 0 });
    expect(run.rejected).toBe(0);
    expect(run.peak).toBe(12);
  }, 300_000);
});
