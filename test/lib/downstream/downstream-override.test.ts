import { describe, expect, it } from 'vitest';
import { createDownstream } from '../../../lib/downstream/downstream-policy.js';
import { MemoryLeaseStore } from '../../../lib/downstream/lease-store.js';
import { FakeClock } from './fake-clock.js';

// A run's override of a host's limits (the job ledger's `limits`): lowers the live caps of this process,
// cut to its share, never raises them above the declared ones, and undefined restores them.
describe('DownstreamPolicy.override', () => {
  it('lowers the host cap live (held permits keep going, no new one past the lowered cap) and restores it', async () => {
    const policy = createDownstream({ 'api.test': { maxConcurrency: 8 } }, { share: 0.5 });
    expect(policy.limitsOf('api.test').maxConcurrency).toBe(4);
    const held = await Promise.all([1, 2, 3].map(() => policy.limiter.acquire('api.test')));
    policy.override('api.test', { maxConcurrency: 2 });
    expect(policy.limitsOf('api.test').maxConcurrency).toBe(1);
    let admitted = 0;
    const next = policy.limiter.acquire('api.test').then((release) => {
      admitted++;
      return release;
    });
    held[0]();
    held[1]();
    await Promise.resolve();
    expect(admitted).toBe(0);
    held[2]();
    const release = await next;
    expect(admitted).toBe(1);
    release();
    policy.override('api.test', undefined);
    expect(policy.limitsOf('api.test').maxConcurrency).toBe(4);
  });

  it('never raises a host above its declared limits, and names an unknown host', () => {
    const policy = createDownstream({ 'api.test': { maxConcurrency: 8, maxRequestsPerSecond: 10 } });
    policy.override('api.test', { maxConcurrency: 100, maxRequestsPerSecond: 1_000 });
    expect(policy.limitsOf('api.test')).toMatchObject({ maxConcurrency: 8, maxRequestsPerSecond: 10 });
    expect(() => policy.override('other.test', { maxConcurrency: 1 })).toThrow(
      'Expected `host` to be one of the downstream hosts (api.test), got "other.test"',
    );
  });

  it('a lowered rate applies to the host’s running token bucket from the next request', () => {
    const clock = new FakeClock();
    const policy = createDownstream({ 'api.test': { maxRequestsPerSecond: 10 } }, { clock });
    expect(policy.rateLimiter.take('api.test')).toBe(0);
    // At 10/s the next token is due in 100 ms ...
    expect(policy.rateLimiter.take('api.test')).toBe(100);
    policy.override('api.test', { maxRequestsPerSecond: 1 });
    // ... at 1/s in 1,000 ms.
    expect(policy.rateLimiter.take('api.test')).toBe(1_000);
    clock.advance(1_000);
    expect(policy.rateLimiter.take('api.test')).toBe(0);
    policy.override('api.test', undefined);
    expect(policy.rateLimiter.take('api.test')).toBe(100);
  });
});

describe('DownstreamPolicy.override on a shared host', () => {
  it('lowers the fleet cap the lease works under, not the static share', () => {
    const policy = createDownstream(
      { 'api.test': { maxConcurrency: 12, shared: true } },
      {
        share: 1 / 15,
        clock: new FakeClock(),
        leases: { store: new MemoryLeaseStore(), holder: 'p', maxHoldMs: 1_000 },
      },
    );
    // A task waiting (the lease has no permits yet) gives the key its live state.
    const cancel = policy.limiter.schedule('api.test', () => {});
    expect(policy.limiter.stats('api.test')?.limit).toBe(12);
    policy.override('api.test', { maxConcurrency: 6 });
    expect(policy.limiter.stats('api.test')?.limit).toBe(6);
    policy.override('api.test', undefined);
    expect(policy.limiter.stats('api.test')?.limit).toBe(12);
    cancel();
  });
});
