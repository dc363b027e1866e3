// Downstream protection against partners that enforce their own capacity: 20,000 tasks over two loopback
// hosts that answer 429 above N concurrent requests (and above a request rate a little over N / service
// time, which only bursts trip). Contenders, one after another on fresh servers: the adaptive limit, a
// fixed limit at the capacity, a fixed limit at twice the capacity, and p-queue with an interval cap set to
// the capacity as a rate. Every contender runs each task with runHttpTask (4 attempts, backoff, Retry-After)
// on the same bounded dispatcher. `npx tsx bench/downstream.ts` runs it alone.
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import { createDownstream } from '../lib/downstream/downstream-policy.js';
import type { HostLimits } from '../lib/downstream/host-limits.js';
import { MemoryLeaseStore } from '../lib/downstream/lease-store.js';
import { createHttpAgents } from '../lib/http/agents.js';
import type { HttpTaskResult } from '../lib/http/http-task.js';
import { runHttpTask } from '../lib/http/run-http-task.js';
import { startCapacityServer } from './servers/capacity-server.js';

const TASKS = 20_000;
const SERVICE_MS = 50;
/** Two partners: concurrency capacity N each; the rate cap is 25% above N / service time. */
const HOSTS = [
  { name: 'A', concurrency: 10, share: 0.25 },
  { name: 'B', concurrency: 30, share: 0.75 },
] as const;

interface Row {
  readonly contender: string;
  readonly seconds: number;
  readonly goodput: number;
  readonly capacity: number;
  readonly rejected: number;
  readonly rejectedAfterWarmUp: number;
  readonly failed: number;
  readonly p99: number;
  readonly perHost: string;
}

interface Task {
  readonly id: string;
  readonly url: string;
  readonly host: number;
}

/** How a contender runs the tasks: through a downstream policy built from per-host limits, or p-queue. */
type Mode = { readonly limits: (capacity: number) => HostLimits } | 'p-queue';

async function contender(name: string, mode: Mode): Promise<Row> {
  const servers = await Promise.all(
    HOSTS.map((h) =>
      startCapacityServer({
        concurrency: h.concurrency,
        perSecond: ((h.concurrency * 1000) / SERVICE_MS) * 1.25,
        burst: h.concurrency,
        serviceMs: SERVICE_MS,
      }),
    ),
  );
  const agents = createHttpAgents({ maxSockets: 512, maxSocketsPerHost: 256 }, { allow: ['127.0.0.1'] });
  const dispatcher = agents.dispatcher;
  // The hosts interleaved in proportion, as a manifest listing many partners would have them.
  const tasks: (Task & { order: number })[] = HOSTS.flatMap((h, host) => {
    const n = Math.round(TASKS * h.share);
    return Array.from({ length: n }, (_, k) => ({
      id: `${h.name}${k}`,
      url: `${servers[host].origin}/item/${k}`,
      host,
      order: k / n,
    }));
  }).sort((x, y) => x.order - y.order);

  const started = performance.now();
  let results: HttpTaskResult[];
  if (mode === 'p-queue') {
    // One queue per host with its capacity as a rate: as many requests per 1-second window as the
    // partner serves in a second.
    const queues = HOSTS.map(
      (h) => new PQueue({ intervalCap: (h.concurrency * 1000) / SERVICE_MS, interval: 1000 }),
    );
    results = (await Promise.all(
      tasks.map((t) => queues[t.host].add(() => runHttpTask(t, { dispatcher }))),
    )) as HttpTaskResult[];
  } else {
    const policy = createDownstream(
      Object.fromEntries(servers.map((s, i) => [s.host, mode.limits(HOSTS[i].concurrency)])),
    );
    results = await Promise.all(tasks.map((t) => policy.run(t, { dispatcher })));
  }
  const seconds = (performance.now() - started) / 1000;
  await agents.destroy();
  await Promise.all(servers.map((s) => s.close()));

  const log = servers.flatMap((s) => s.log);
  const first = Math.min(...log.map((r) => r.start));
  const last = Math.max(...log.map((r) => r.end));
  const warm = first + (last - first) * 0.2;
  const after = log.filter((r) => r.end >= warm);
  const durations = results.map((r) => r.durationMs).sort((a, b) => a - b);
  const ok = results.filter((r) => r.ok).length;
  const share429 = (entries: readonly { status: number }[]) =>
    entries.filter((r) => r.status === 429).length / Math.max(1, entries.length);
  return {
    contender: name,
    seconds,
    goodput: ok / seconds,
    capacity: HOSTS.reduce((sum, h) => sum + (h.concurrency * 1000) / SERVICE_MS, 0),
    rejected: share429(log),
    rejectedAfterWarmUp: share429(after),
    failed: results.length - ok,
    p99: durations[Math.floor(durations.length * 0.99)] ?? 0,
    perHost: servers.map((s, i) => `${HOSTS[i].name} ${(share429(s.log) * 100).toFixed(1)}%`).join(', '),
  };
}

export async function run(): Promise<string> {
  const rows: Row[] = [];
  rows.push(await contender('fixed at capacity', { limits: (n) => ({ maxConcurrency: n }) }));
  rows.push(
    await contender('adaptive (AIMD, ceiling 4x capacity)', {
      limits: (n) => ({ adaptive: true, maxConcurrency: 4 * n }),
    }),
  );
  rows.push(await contender('fixed at 2x capacity', { limits: (n) => ({ maxConcurrency: 2 * n }) }));
  rows.push(await contender('p-queue, interval cap at capacity', 'p-queue'));
  const base = rows[0].goodput;
  const lines = [
    '## Downstream protection (bench/downstream.ts)',
    '',
    `${TASKS.toLocaleString('en-US')} GET tasks over two loopback partners that answer 429 above their concurrency (A: ${HOSTS[0].concurrency}, B: ${HOSTS[1].concurrency}; ${SERVICE_MS} ms per request, so ${rows[0].capacity.toLocaleString('en-US')} requests/s together) or above 1.25x that as a rate. Each task is runHttpTask (4 attempts, backoff, Retry-After). Goodput: tasks completed OK per second of the run; 429 share: of all responses, counted by the servers; p99: task duration, retries included.`,
    '',
    '| contender | goodput (tasks/s) | of capacity | vs fixed at capacity | 429 share | 429 after warm-up | 429 by host | failed tasks | p99 (ms) |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.contender} | ${Math.round(r.goodput).toLocaleString('en-US')} | ${(r.goodput / r.capacity).toFixed(2)}x | ${(r.goodput / base).toFixed(2)}x | ${(r.rejected * 100).toFixed(2)}% | ${(r.rejectedAfterWarmUp * 100).toFixed(2)}% | ${r.perHost} | ${r.failed} | ${r.p99} |`,
    ),
    '',
    `Target: adaptive at least 0.9x the goodput of the fixed limit at capacity with at most 1% 429s: ${
      rows[1].goodput >= 0.9 * base && rows[1].rejectedAfterWarmUp <= 0.01 ? 'met' : 'NOT met'
    } (${(rows[1].goodput / base).toFixed(2)}x, ${(rows[1].rejectedAfterWarmUp * 100).toFixed(2)}% after warm-up, ${(rows[1].rejected * 100).toFixed(2)}% overall).`,
  ];
  return lines.join('\n');
}

// Shared hosts (issue 17): one partner capped at 30 among a fleet of 15 processes of which 3 are busy (the
// bursty case a queue-only run has). The static share gives each process floor(30 / 15) = 2; leases let the
// busy ones use the whole cap. Both contenders in the same run, alternated (A B A B A B), medians reported.
// The lease store is the reference MemoryLeaseStore, whose writes count what the DynamoDB store would send.
const SHARED_CAP = 30;
const FLEET = 15;
const BUSY = 3;
const SHARED_TASKS_PER_PROCESS = 400;
const SHARED_ROUNDS = 3;

async function sharedContender(
  leases: boolean,
): Promise<{ goodput: number; peak: number; writesPer1000: number; rejected: number }> {
  const server = await startCapacityServer({ concurrency: SHARED_CAP, serviceMs: SERVICE_MS });
  const agents = createHttpAgents({ maxSockets: 512, maxSocketsPerHost: 256 }, { allow: ['127.0.0.1'] });
  const store = new MemoryLeaseStore();
  const fleet = Array.from({ length: FLEET }, (_, p) =>
    createDownstream(
      { [server.host]: { maxConcurrency: SHARED_CAP, shared: true } },
      {
        share: 1 / FLEET,
        ...(leases ? { leases: { store, holder: `p${p}`, maxHoldMs: 10_000 } } : {}),
      },
    ),
  );
  const started = performance.now();
  const results = await Promise.all(
    fleet
      .slice(0, BUSY)
      .flatMap((policy, p) =>
        Array.from({ length: SHARED_TASKS_PER_PROCESS }, (_, i) =>
          policy.run(
            { id: `p${p}t${i}`, url: `${server.origin}/x/${p}/${i}` },
            { dispatcher: agents.dispatcher },
          ),
        ),
      ),
  );
  const seconds = (performance.now() - started) / 1000;
  await agents.destroy();
  await server.close();
  const ok = results.filter((r) => r.ok).length;
  return {
    goodput: ok / seconds,
    peak: server.peakActive,
    writesPer1000: (store.writes * 1000) / results.length,
    rejected: server.log.filter((r) => r.status === 429).length,
  };
}

export async function runShared(): Promise<string> {
  const rows = {
    static: [] as Awaited<ReturnType<typeof sharedContender>>[],
    leases: [] as Awaited<ReturnType<typeof sharedContender>>[],
  };
  for (let round = 0; round < SHARED_ROUNDS; round++) {
    rows.static.push(await sharedContender(false));
    rows.leases.push(await sharedContender(true));
  }
  const med = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const line = (name: string, runs: Awaited<ReturnType<typeof sharedContender>>[], base: number) => {
    const goodput = med(runs.map((r) => r.goodput));
    return `| ${name} | ${Math.round(goodput).toLocaleString('en-US')} | ${(goodput / base).toFixed(2)}x | ${Math.max(...runs.map((r) => r.peak))} | ${runs.reduce((sum, r) => sum + r.rejected, 0)} | ${med(runs.map((r) => r.writesPer1000)).toFixed(1)} |`;
  };
  const base = med(rows.static.map((r) => r.goodput));
  return [
    '## Shared hosts: leases against the static share (bench/downstream.ts)',
    '',
    `One loopback partner capped at ${SHARED_CAP} requests at once (${SERVICE_MS} ms each, 429 above the cap), ${FLEET} processes (one DownstreamPolicy each, in one Node process), ${BUSY} of them busy with ${SHARED_TASKS_PER_PROCESS} tasks each. Static share: floor(${SHARED_CAP} / ${FLEET}) per process. Leases: the reference MemoryLeaseStore (its writes are what the DynamoDB store would send: takes, gives, renewals, reclaims). ${SHARED_ROUNDS} rounds alternated, medians; peak and 429s over all rounds.`,
    '',
    '| contender | goodput (tasks/s) | vs static share | peak held | 429s | store writes per 1,000 requests |',
    '|---|---:|---:|---:|---:|---:|',
    line('static share (1/15 each)', rows.static, base),
    line('shared: true (fleet leases)', rows.leases, base),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--shared')) console.log(await runShared());
  else console.log(await run());
}
