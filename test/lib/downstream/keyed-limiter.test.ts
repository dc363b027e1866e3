import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedLimiter } from '../../../lib/downstream/keyed-limiter.js';
import { RateLimiter } from '../../../lib/downstream/rate-limiter.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { RUNS } from '../../helpers/runs.js';
import { FakeClock, flush } from './fake-clock.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Notes that a task started, then hands back what it waits on. */
function record<T, P>(started: T[], id: T, promise: P): P {
  started.push(id);
  return promise;
}

describe('KeyedLimiter: bad input', () => {
  it.each([0, -1, 1.5, Number.NaN, '3', undefined])('refuses global %s, naming it', (value) => {
    expect(() => new KeyedLimiter({ global: value as number, perKey: 1 })).toThrow(InvalidArgumentError);
    expect(() => new KeyedLimiter({ global: value as number, perKey: 1 })).toThrow(/`global`/);
  });

  it.each([0, -2, 2.5, Number.NaN, null])('refuses perKey %s, naming it', (value) => {
    expect(() => new KeyedLimiter({ global: 4, perKey: value as number })).toThrow(
      /Expected `perKey` to be an integer >= 1 or Infinity/,
    );
  });

  it('refuses a perKey function result when the key is first used, naming the key and the value', async () => {
    const limiter = new KeyedLimiter({ global: 4, perKey: (key) => (key === 'bad' ? 0 : 2) });
    await expect(limiter.run('bad', () => 1)).rejects.toThrow(
      'Expected `perKey("bad")` to be an integer >= 1 or Infinity, got 0',
    );
    await expect(limiter.run('good', () => 1)).resolves.toBe(1);
    expect(limiter.activeKeys).toBe(0);
  });

  it('refuses a keyOf, gate or clock of the wrong kind, and a non-function task', async () => {
    expect(() => new KeyedLimiter({ global: 1, perKey: 1, keyOf: 'host' as never })).toThrow(/`keyOf`/);
    expect(() => new KeyedLimiter({ global: 1, perKey: 1, gate: 5 as never })).toThrow(/`gate`/);
    expect(() => new KeyedLimiter({ global: 1, perKey: 1, clock: {} as never })).toThrow(/`clock`/);
    const limiter = new KeyedLimiter({ global: 1, perKey: 1 });
    await expect(limiter.run('a', 'nope' as never)).rejects.toThrow(/`fn`/);
    expect(() => limiter.setLimit('a', 0)).toThrow(/`limit`/);
    expect(() => limiter.setGlobal(-1)).toThrow(/`global`/);
  });
});

describe('KeyedLimiter: admission', () => {
  it('admits a task only when both the global and its key have room', async () => {
    const limiter = new KeyedLimiter({ global: 2, perKey: 1 });
    const gates = [deferred(), deferred(), deferred()];
    const started: string[] = [];
    const runs = [
      limiter.run('a', () => record(started, 'a1', gates[0].promise)),
      limiter.run('a', () => record(started, 'a2', gates[1].promise)),
      limiter.run('b', () => record(started, 'b1', gates[2].promise)),
    ];
    expect(started).toEqual(['a1', 'b1']);
    expect(limiter.stats('a')).toEqual({ limit: 1, inFlight: 1, waiting: 1 });
    gates[0].resolve();
    await flush();
    expect(started).toEqual(['a1', 'b1', 'a2']);
    gates[1].resolve();
    gates[2].resolve();
    await Promise.all(runs);
    expect(limiter.peakInFlight).toBe(2);
  });

  it('never lets a busy key block the others, and frees global permits to the oldest admissible waiter', async () => {
    const limiter = new KeyedLimiter({ global: 3, perKey: 1 });
    const hold = new Map<string, ReturnType<typeof deferred>>();
    const started: string[] = [];
    const task = (id: string) => () => {
      started.push(id);
      const d = deferred();
      hold.set(id, d);
      return d.promise;
    };
    const runs = [
      limiter.run('a', task('a1')),
      limiter.run('a', task('a2')),
      limiter.run('a', task('a3')),
      limiter.run('b', task('b1')),
      limiter.run('c', task('c1')),
      limiter.run('d', task('d1')),
    ];
    // a2 and a3 wait on key a; b1 and c1 are not queued behind them.
    expect(started).toEqual(['a1', 'b1', 'c1']);
    expect(limiter.waiting).toBe(3);
    // Key a's permit and a global permit free together: a2 arrived before d1, so a2 goes first.
    hold.get('a1')!.resolve();
    await flush();
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2']);
    // Only a global permit frees (b's key): a3 cannot go (a is busy), so d1 goes, though it came later.
    hold.get('b1')!.resolve();
    await flush();
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2', 'd1']);
    for (const id of ['c1', 'a2', 'd1']) hold.get(id)!.resolve();
    await flush();
    hold.get('a3')!.resolve();
    await Promise.all(runs);
    expect(limiter.activeKeys).toBe(0);
  });

  it('applies per-key overrides from a function of the key, and keyOf maps inputs to keys', async () => {
    const limiter = new KeyedLimiter<string>({
      global: 10,
      perKey: (host) => (host === 'slow.example' ? 1 : 3),
      keyOf: (url) => new URL(url).host,
    });
    const gate = deferred();
    let running = 0;
    let peakSlow = 0;
    const runs = Array.from({ length: 6 }, (_, i) =>
      limiter.run(`https://slow.example/${i}`, async () => {
        running++;
        peakSlow = Math.max(peakSlow, running);
        await gate.promise;
        running--;
      }),
    );
    const fast = Array.from({ length: 6 }, () => limiter.run('https://fast.example/x', () => gate.promise));
    expect(limiter.stats('https://slow.example/any')).toEqual({ limit: 1, inFlight: 1, waiting: 5 });
    expect(limiter.stats('https://fast.example/')).toEqual({ limit: 3, inFlight: 3, waiting: 3 });
    gate.resolve();
    await Promise.all([...runs, ...fast]);
    expect(peakSlow).toBe(1);
  });

  it('forgets idle keys: 100,000 distinct keys leave nothing behind', async () => {
    const limiter = new KeyedLimiter({ global: 64, perKey: 2 });
    const runs: Promise<number>[] = [];
    for (let i = 0; i < 100_000; i++) runs.push(limiter.run(`key-${i}`, async () => i));
    expect(limiter.activeKeys).toBeGreaterThan(0);
    const results = await Promise.all(runs);
    expect(results[99_999]).toBe(99_999);
    expect(limiter.activeKeys).toBe(0);
    expect(limiter.inFlight).toBe(0);
    expect(limiter.waiting).toBe(0);
    expect(limiter.peakInFlight).toBe(64);
  });

  it('grows a key live at once and shrinks it as tasks finish', async () => {
    const limiter = new KeyedLimiter({ global: 10, perKey: 1 });
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const runs = gates.map((g, i) => limiter.run('k', () => record(started, i, g.promise)));
    expect(started).toEqual([0]);
    limiter.setLimit('k', 3);
    expect(started).toEqual([0, 1, 2]);
    limiter.setLimit('k', 1);
    gates[0].resolve();
    gates[1].resolve();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[2].resolve();
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    limiter.setLimit('idle-key', 5); // no state to change, no error
    gates[3].resolve();
    gates[4].resolve();
    await Promise.all(runs);
    expect(limiter.activeKeys).toBe(0);
  });

  it('grows the global limit live', async () => {
    const limiter = new KeyedLimiter({ global: 1, perKey: 5 });
    const gate = deferred();
    const started: number[] = [];
    const runs = Array.from({ length: 4 }, (_, i) =>
      limiter.run(`k${i % 2}`, () => record(started, i, gate.promise)),
    );
    expect(started).toHaveLength(1);
    limiter.setGlobal(3);
    expect(started).toHaveLength(3);
    gate.resolve();
    await Promise.all(runs);
  });
});

describe('KeyedLimiter: aborts, failures and releases', () => {
  it('an aborted waiter leaves the queue, rejects with the reason and never runs', async () => {
    const limiter = new KeyedLimiter({ global: 5, perKey: 1 });
    const gate = deferred();
    const first = limiter.run('k', () => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const second = limiter.run('k', () => (ran = true), { signal: controller.signal });
    const third = limiter.run('k', () => 'third');
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(second).rejects.toBe(reason);
    expect(limiter.stats('k')).toEqual({ limit: 1, inFlight: 1, waiting: 1 });
    gate.resolve();
    await expect(third).resolves.toBe('third');
    await first;
    expect(ran).toBe(false);
    expect(limiter.activeKeys).toBe(0);
  });

  it('rejects at once for a signal aborted before the call', async () => {
    const limiter = new KeyedLimiter({ global: 1, perKey: 1 });
    const reason = new Error('already');
    let ran = false;
    await expect(limiter.run('k', () => (ran = true), { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(ran).toBe(false);
    expect(limiter.activeKeys).toBe(0);
  });

  it('an abort after admission does not take the permit back: the task runs and releases', async () => {
    const limiter = new KeyedLimiter({ global: 1, perKey: 1 });
    const controller = new AbortController();
    const result = limiter.run(
      'k',
      async () => {
        controller.abort();
        return 'done';
      },
      { signal: controller.signal },
    );
    await expect(result).resolves.toBe('done');
    expect(limiter.inFlight).toBe(0);
  });

  it('releases after a synchronous throw and after a rejection', async () => {
    const limiter = new KeyedLimiter({ global: 1, perKey: 1 });
    await expect(
      limiter.run('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(
      limiter.run('k', async () => {
        throw new Error('async');
      }),
    ).rejects.toThrow('async');
    expect(limiter.inFlight).toBe(0);
    await expect(limiter.run('k', () => 'next')).resolves.toBe('next');
  });

  it('acquire hands a release that counts once, however often it is called', async () => {
    const limiter = new KeyedLimiter({ global: 2, perKey: 2 });
    const release = await limiter.acquire('k');
    const other = await limiter.acquire('k');
    release();
    release();
    release();
    expect(limiter.inFlight).toBe(1);
    expect(limiter.stats('k')?.inFlight).toBe(1);
    other();
    expect(limiter.activeKeys).toBe(0);
  });

  it('schedule: cancel returns true for a waiter and false once it was admitted', () => {
    const limiter = new KeyedLimiter({ global: 1, perKey: 1 });
    let release: (() => void) | undefined;
    const cancelFirst = limiter.schedule('k', (r) => (release = r));
    let secondAdmitted = false;
    const cancelSecond = limiter.schedule('k', () => (secondAdmitted = true));
    expect(cancelFirst()).toBe(false);
    expect(cancelSecond()).toBe(true);
    expect(cancelSecond()).toBe(false);
    release!();
    expect(secondAdmitted).toBe(false);
    expect(limiter.activeKeys).toBe(0);
  });

  it("keeps the caller's AsyncLocalStorage context in a task that waited", async () => {
    const als = new AsyncLocalStorage<string>();
    const limiter = new KeyedLimiter({ global: 1, perKey: 1 });
    const gate = deferred();
    const first = als.run('first', () => limiter.run('k', () => gate.promise));
    const second = als.run('second', () => limiter.run('k', () => als.getStore()));
    gate.resolve();
    await first;
    await expect(second).resolves.toBe('second');
  });
});

describe('KeyedLimiter: the gate', () => {
  it('holds back only the gated key, with no permit held, until its timer', async () => {
    const clock = new FakeClock();
    const heldUntil = new Map<string, number>([['slow', 100]]);
    const limiter = new KeyedLimiter({
      global: 1,
      perKey: 1,
      clock,
      gate: (key) => Math.max(0, (heldUntil.get(key) ?? 0) - clock.now()),
    });
    const started: string[] = [];
    const slow = limiter.run('slow', () => started.push('slow'));
    const fast = limiter.run('fast', () => started.push('fast'));
    await fast;
    expect(started).toEqual(['fast']);
    expect(limiter.inFlight).toBe(0);
    clock.advance(99);
    expect(started).toEqual(['fast']);
    clock.advance(1);
    await slow;
    expect(started).toEqual(['fast', 'slow']);
    expect(clock.pending).toBe(0);
    expect(limiter.activeKeys).toBe(0);
  });

  it('clears the hold timer when the last waiter of a held key aborts', async () => {
    const clock = new FakeClock();
    const limiter = new KeyedLimiter({ global: 1, perKey: 1, clock, gate: () => 1000 });
    const controller = new AbortController();
    const run = limiter.run('k', () => 1, { signal: controller.signal });
    expect(clock.pending).toBe(1);
    controller.abort(new Error('bye'));
    await expect(run).rejects.toThrow('bye');
    expect(clock.pending).toBe(0);
    expect(limiter.activeKeys).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Properties

const KEYS = ['a', 'b', 'c', 'd', 'e'] as const;

const taskArb = fc.record({
  key: fc.constantFrom(...KEYS),
  at: fc.nat(6),
  duration: fc.nat(4),
  outcome: fc.constantFrom('ok', 'ok', 'reject', 'throw'),
  abortAt: fc.option(fc.nat(9), { nil: undefined }),
});

const scenarioArb = fc.record({
  global: fc.integer({ min: 1, max: 5 }),
  perKey: fc.dictionary(fc.constantFrom(...KEYS), fc.integer({ min: 1, max: 3 })),
  tasks: fc.array(taskArb, { maxLength: 30 }),
  resizes: fc.array(
    fc.record({
      at: fc.nat(8),
      key: fc.option(fc.constantFrom(...KEYS), { nil: undefined }),
      limit: fc.integer({ min: 1, max: 4 }),
    }),
    { maxLength: 3 },
  ),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

interface Tracked {
  readonly index: number;
  readonly key: string;
  started: boolean;
  settled: number;
  outcome: 'fulfilled' | 'rejected' | undefined;
  reason: unknown;
}

async function runScenario(
  s: Scenario,
  options: { rate?: { perSecond: number; burst: number; clock: FakeClock } } = {},
) {
  const limits = new Map<string, number>(KEYS.map((k) => [k, s.perKey[k] ?? 2]));
  let global = s.global;
  const clock = options.rate?.clock;
  const rate =
    options.rate && new RateLimiter({ perSecond: options.rate.perSecond, burst: options.rate.burst, clock });
  const limiter = new KeyedLimiter({
    global,
    perKey: (key) => limits.get(key)!,
    gate: rate && ((key) => rate.take(key)),
    clock,
  });
  const active = new Map<string, number>(KEYS.map((k) => [k, 0]));
  let activeTotal = 0;
  const violations: string[] = [];
  const startOrder = new Map<string, number[]>(KEYS.map((k) => [k, []]));
  const startTimes = new Map<string, number[]>(KEYS.map((k) => [k, []]));
  const finishing: { at: number; done: () => void }[] = [];
  const tracked: Tracked[] = [];
  const controllers: (AbortController | undefined)[] = [];
  const order = s.tasks.map((t, i) => ({ ...t, index: i })).sort((x, y) => x.at - y.at || x.index - y.index);
  const lastTick = 400;
  for (let tick = 0; tick <= lastTick; tick++) {
    for (const r of s.resizes.filter((r) => r.at === tick)) {
      if (r.key) {
        limits.set(r.key, r.limit);
        limiter.setLimit(r.key, r.limit);
      } else {
        global = r.limit;
        limiter.setGlobal(r.limit);
      }
    }
    for (const t of order.filter((t) => t.at === tick)) {
      const record: Tracked = {
        index: t.index,
        key: t.key,
        started: false,
        settled: 0,
        outcome: undefined,
        reason: undefined,
      };
      tracked.push(record);
      const controller = t.abortAt === undefined ? undefined : new AbortController();
      controllers[t.index] = controller;
      limiter
        .run(
          t.key,
          () => {
            if (record.started) violations.push(`task ${t.index} started twice`);
            record.started = true;
            if (active.get(t.key)! >= limits.get(t.key)!) violations.push(`key ${t.key} over its limit`);
            if (activeTotal >= global) violations.push('global over its limit');
            startOrder.get(t.key)!.push(t.index);
            if (clock) startTimes.get(t.key)!.push(clock.now());
            if (t.outcome === 'throw') throw new Error(`throw ${t.index}`);
            active.set(t.key, active.get(t.key)! + 1);
            activeTotal++;
            return new Promise<number>((resolve, reject) => {
              finishing.push({
                at: tick + t.duration,
                done: () => {
                  active.set(t.key, active.get(t.key)! - 1);
                  activeTotal--;
                  if (t.outcome === 'reject') reject(new Error(`reject ${t.index}`));
                  else resolve(t.index);
                },
              });
            });
          },
          { signal: controller?.signal },
        )
        .then(
          () => {
            record.settled++;
            record.outcome = 'fulfilled';
          },
          (reason) => {
            record.settled++;
            record.outcome = 'rejected';
            record.reason = reason;
          },
        );
    }
    for (const t of order.filter((t) => t.abortAt === tick))
      controllers[t.index]?.abort(new Error(`abort ${t.index}`));
    for (const f of finishing.filter((f) => f.at <= tick)) {
      finishing.splice(finishing.indexOf(f), 1);
      f.done();
    }
    await flush();
    if (clock) {
      // Past the scripted events, jump to the next timer so rationed keys drain in few steps.
      const next = clock.nextAt();
      clock.advance(tick > 12 && next !== undefined ? Math.max(10, next - clock.now()) : 10);
      await flush();
    }
    // No head-of-line blocking: a key with waiters is full, or the global limit is, or its rate is spent.
    for (const key of KEYS) {
      const waiting = tracked.some((r) => r.key === key && !r.started && r.settled === 0);
      const full = active.get(key)! >= limits.get(key)! || activeTotal >= global;
      const rationed = rate !== undefined && rate.tokens(key) < 1;
      if (waiting && !full && !rationed) violations.push(`key ${key} waits with room at tick ${tick}`);
    }
    if (tick >= 12 && tracked.length === s.tasks.length && tracked.every((r) => r.settled > 0)) break;
  }
  return { limiter, tracked, violations, startOrder, startTimes, clock };
}

describe('KeyedLimiter: properties', () => {
  it('keeps every cap, never blocks a key behind another, settles each task once, FIFO per key (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const { limiter, tracked, violations, startOrder } = await runScenario(s);
        expect(violations).toEqual([]);
        expect(tracked).toHaveLength(s.tasks.length);
        for (const r of tracked) {
          expect(r.settled).toBe(1);
          const t = s.tasks[r.index];
          if (!r.started) {
            // Only an abort keeps a task from starting, and it rejects with the abort's reason.
            expect(t.abortAt).toBeDefined();
            expect((r.reason as Error).message).toBe(`abort ${r.index}`);
          } else if (t.outcome === 'ok') {
            expect(r.outcome).toBe('fulfilled');
          } else {
            expect((r.reason as Error).message).toBe(`${t.outcome} ${r.index}`);
          }
        }
        // Submission order is by tick, then by index within a tick.
        const submitted = s.tasks.map((t, i) => ({ at: t.at, i })).sort((x, y) => x.at - y.at || x.i - y.i);
        const rank = new Map(submitted.map((x, n) => [x.i, n]));
        for (const started of startOrder.values()) {
          const ranks = started.map((i) => rank.get(i)!);
          expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
        }
        expect(limiter.inFlight).toBe(0);
        expect(limiter.waiting).toBe(0);
        expect(limiter.activeKeys).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('with a rate gate on a fake clock: every key within its rate in any window, and still no head-of-line blocking (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb,
        fc.integer({ min: 20, max: 200 }),
        fc.integer({ min: 1, max: 3 }),
        async (s, perSecond, burst) => {
          const clock = new FakeClock();
          const { limiter, tracked, violations, startTimes } = await runScenario(s, {
            rate: { perSecond, burst, clock },
          });
          expect(violations).toEqual([]);
          for (const r of tracked) expect(r.settled).toBe(1);
          for (const times of startTimes.values()) {
            for (let i = 0; i < times.length; i++) {
              for (let j = i; j < times.length; j++) {
                expect(j - i + 1).toBeLessThanOrEqual(
                  (perSecond * (times[j] - times[i])) / 1000 + burst + 1e-6,
                );
              }
            }
          }
          expect(limiter.activeKeys).toBe(0);
        },
      ),
      {
        numRuns: RUNS,
        // Seed 1050662359's counterexample, run every time: at 20/s the bucket's float error made the gate
        // hold key b until 51 ms though its token was there at 50 (the wait rounded up a whole ms).
        examples: [
          [
            {
              global: 1,
              perKey: {},
              tasks: [
                { key: 'b', at: 0, duration: 0, outcome: 'ok', abortAt: undefined },
                { key: 'b', at: 1, duration: 1, outcome: 'ok', abortAt: undefined },
                { key: 'b', at: 1, duration: 0, outcome: 'ok', abortAt: undefined },
              ],
              resizes: [],
            },
            20,
            2,
          ],
        ],
      },
    );
  });
});
