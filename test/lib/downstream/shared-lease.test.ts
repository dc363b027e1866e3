// Shared hosts end to end (issue 17): several processes' DownstreamPolicies, each with its own lease on one
// lease store, against a real loopback partner that answers 429 above its capacity. With leases the partner's
// peak never passes the cap and reaches it when only some processes are busy (a static share cannot); when
// the store fails, a process falls back to its static share (never above it), says so once, and takes leases
// again when the store answers. The DynamoDB store (dynalite) runs the same fleet and its writes are counted.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CapacityServer, startCapacityServer } from '../../../bench/servers/capacity-server.js';
import { LeaseTable } from '../../../lib/aws/lease-table.js';
import { createDownstream, type DownstreamPolicy } from '../../../lib/downstream/downstream-policy.js';
import { type LeaseStore, MemoryLeaseStore } from '../../../lib/downstream/lease-store.js';
import { createHttpAgents, type HttpAgents } from '../../../lib/http/agents.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

let agents: HttpAgents;
const servers: CapacityServer[] = [];
const PROCESSES = 5;
const CAP = 10;

beforeAll(() => {
  agents = createHttpAgents({ maxSockets: 256, maxSocketsPerHost: 128 }, { allow: ['127.0.0.1'] });
});
afterAll(async () => {
  await agents.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

async function partner(): Promise<CapacityServer> {
  const s = await startCapacityServer({ concurrency: CAP, serviceMs: 15 });
  servers.push(s);
  return s;
}

/** One process's policy: a static share of 1/PROCESSES, or leases on `store` when given. */
function processPolicy(s: CapacityServer, store: LeaseStore | undefined, events = {}): DownstreamPolicy {
  return createDownstream(
    { [s.host]: { maxConcurrency: CAP, shared: true } },
    {
      share: 1 / PROCESSES,
      ...(store
        ? {
            leases: {
              store,
              holder: `p-${randomBytes(4).toString('hex')}`,
              maxHoldMs: 1_000,
              skewMs: 100,
              ttlMs: 4_000,
              storeTimeoutMs: 500,
              ...events,
            },
          }
        : {}),
    },
  );
}

/** `busy` processes each run `n` tasks to the partner at once; resolves to how many succeeded. */
async function runFleet(s: CapacityServer, policies: DownstreamPolicy[], n: number): Promise<number> {
  const runs = policies.flatMap((policy, p) =>
    Array.from({ length: n }, (_, i) =>
      policy.run({ id: `p${p}t${i}`, url: `${s.origin}/x/${p}/${i}` }, { dispatcher: agents.dispatcher }),
    ),
  );
  return (await Promise.all(runs)).filter((r) => r.ok).length;
}

describe('DownstreamPolicy: shared hosts on fleet leases', () => {
  it('two busy processes of five: leases reach the cap and never pass it; static shares stop at 2/5 of it', async () => {
    const leased = await partner();
    const store = new MemoryLeaseStore();
    const fleet = Array.from({ length: PROCESSES }, () => processPolicy(leased, store));
    expect(await runFleet(leased, fleet.slice(0, 2), 150)).toBe(300);
    expect(leased.peakActive).toBe(CAP);
    expect(leased.log.filter((r) => r.status === 429)).toHaveLength(0);
    await vi.waitFor(() => expect(store.inUse(leased.host)).toBe(0));

    const fixed = await partner();
    const statics = Array.from({ length: PROCESSES }, () => processPolicy(fixed, undefined));
    expect(await runFleet(fixed, statics.slice(0, 2), 150)).toBe(300);
    expect(fixed.peakActive).toBe((2 * CAP) / PROCESSES);
  });

  it('every process busy: the fleet holds the cap, never more', async () => {
    const s = await partner();
    const store = new MemoryLeaseStore();
    const fleet = Array.from({ length: PROCESSES }, () => processPolicy(s, store));
    expect(await runFleet(s, fleet, 60)).toBe(300);
    expect(s.peakActive).toBe(CAP);
    expect(s.log.filter((r) => r.status === 429)).toHaveLength(0);
  });

  it('a failing store: the static share (never above it), one fallback event, leases again when it answers', async () => {
    const s = await partner();
    // A test double over the reference store: it refuses every call while `down` is set.
    const memory = new MemoryLeaseStore();
    let down = true;
    const flaky: LeaseStore = {
      take: (r) => (down ? Promise.reject(new Error('store down')) : memory.take(r)),
      give: (r) => (down ? Promise.reject(new Error('store down')) : memory.give(r)),
    };
    const events: string[] = [];
    const policy = processPolicy(s, flaky, {
      onFallback: (host: string, error: Error) => events.push(`fallback ${host} ${error.message}`),
      onRecover: (host: string) => events.push(`recover ${host}`),
    });
    expect(await runFleet(s, [policy], 60)).toBe(60);
    expect(s.peakActive).toBe(CAP / PROCESSES);
    expect(events).toEqual([`fallback ${s.host} store down`]);
    down = false;
    expect(await runFleet(s, [policy], 100)).toBe(100);
    expect(events).toEqual([`fallback ${s.host} store down`, `recover ${s.host}`]);
    expect(s.peakActive).toBe(CAP);
    await vi.waitFor(() => expect(memory.inUse(s.host)).toBe(0));
  });
});

describe('DownstreamPolicy: shared hosts on the DynamoDB lease store', () => {
  let client: DynamoDBClient;
  let tableName: string;
  beforeAll(async () => {
    ({ client, tableName } = await freshJobTable('shared'));
  });
  afterAll(() => client?.destroy());

  it('three busy processes hold the cap, never more; store writes stay far below one per request', async () => {
    const s = await partner();
    const store = new LeaseTable(client, { tableName });
    const fleet = Array.from({ length: PROCESSES }, () => processPolicy(s, store));
    const requests = 3 * 200;
    expect(await runFleet(s, fleet.slice(0, 3), 200)).toBe(requests);
    expect(s.peakActive).toBeLessThanOrEqual(CAP);
    expect(s.peakActive).toBeGreaterThanOrEqual(0.9 * CAP);
    expect(s.log.filter((r) => r.status === 429)).toHaveLength(0);
    await vi.waitFor(async () => expect(await store.inUse(s.host)).toBe(0), { timeout: 3_000 });
    const perThousand = (store.writes * 1000) / requests;
    console.log(
      `lease store: ${store.writes} transactions for ${requests} requests (${perThousand} per 1,000)`,
    );
    expect(perThousand).toBeLessThan(250);
  });
});
