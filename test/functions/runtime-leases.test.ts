// The container's downstream policy with a lease store (issue 17): a `shared: true` host runs on the fleet's
// leases (the store sees its writes, and the partner sees more than the static share), a host without
// `shared` keeps its share; the fallback and recovery lines carry their metric.
import { afterAll, describe, expect, it } from 'vitest';
import { startCapacityServer } from '../../bench/servers/capacity-server.js';
import { leaseEvents } from '../../functions/lease-events.js';
import { createContainerDownstream } from '../../functions/runtime.js';
import { withDefaults } from '../../lib/config.js';
import { leaseTtlMs } from '../../lib/downstream/fleet-lease.js';
import { MemoryLeaseStore } from '../../lib/downstream/lease-store.js';
import { createHttpAgents } from '../../lib/http/agents.js';

const agents = createHttpAgents({ maxSockets: 64, maxSocketsPerHost: 64 }, { allow: ['127.0.0.1'] });
afterAll(() => agents.destroy());

describe('createContainerDownstream with leases', () => {
  it('a shared host holds fleet permits beyond the static share; an unshared one keeps its share', async () => {
    const shared = await startCapacityServer({ concurrency: 30, serviceMs: 10 });
    const fixed = await startCapacityServer({ concurrency: 30, serviceMs: 10 });
    try {
      const config = withDefaults({
        downstream: {
          [shared.host]: { maxConcurrency: 30, shared: true },
          [fixed.host]: { maxConcurrency: 30 },
        },
      });
      const store = new MemoryLeaseStore();
      // The default attempt timeout (10 s) needs a lease longer than the 30 s default: the wiring picks 36 s.
      const policy = createContainerDownstream(config, {
        store,
        holder: 'c1',
        maxHoldMs: config.requestTimeoutMs,
      });
      const run = (origin: string) =>
        Promise.all(
          Array.from({ length: 90 }, (_, i) =>
            policy!.run({ id: `t${i}`, url: `${origin}/${i}` }, { dispatcher: agents.dispatcher }),
          ),
        );
      expect((await run(shared.origin)).every((r) => r.ok)).toBe(true);
      expect((await run(fixed.origin)).every((r) => r.ok)).toBe(true);
      const staticShare = policy!.limitsOf(fixed.host).maxConcurrency;
      expect(staticShare).toBeLessThan(30);
      expect(fixed.peakActive).toBe(staticShare);
      expect(shared.peakActive).toBeGreaterThan(staticShare);
      expect(shared.peakActive).toBeLessThanOrEqual(30);
      expect(store.writes).toBeGreaterThan(0);
      expect(leaseTtlMs(config.requestTimeoutMs)).toBe(36_000);
    } finally {
      await Promise.all([shared.close(), fixed.close()]);
    }
  });

  it('says a fallback and a recovery once each, with the metric in the same line', () => {
    const lines: string[] = [];
    const events = leaseEvents((line) => lines.push(line));
    events.onFallback?.('api.example.com', new Error('timed out'));
    events.onRecover?.('api.example.com');
    const [fallback, recovered] = lines.map((l) => JSON.parse(l));
    expect(fallback).toMatchObject({
      host: 'api.example.com',
      LeaseFallback: 1,
      level: 'WARN',
      error: 'timed out',
      message: 'lease store failed for api.example.com: static share until it answers',
    });
    expect(fallback._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'LeaseFallback', Unit: 'Count' }]);
    expect(recovered).toMatchObject({ host: 'api.example.com', LeaseRecovered: 1, level: 'INFO' });
  });
});
