// RateLimiter's options by exact values: the error each bad option throws (its whole message), the default
// burst max(1, ceil(perSecond)), and a burst given as a function of the key, read per key and named in its
// error as burst("key").
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../lib/downstream/rate-limiter.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { FakeClock } from './fake-clock.js';

/** The error `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('RateLimiter: the errors of bad options, word for word', () => {
  it.each([
    [null, 'null'],
    [5, '5'],
    ['fast', '"fast"'],
    [undefined, 'undefined'],
  ])('refuses options %s as not an object', (options, shown) => {
    const error = thrown(() => new RateLimiter(options as never));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).option).toBe('options');
    expect((error as Error).message).toBe(
      `Expected \`options\` to be an object like { perSecond: 10, burst: 5 }, got ${shown}`,
    );
  });

  it.each([
    [0, '0'],
    [-5, '-5'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    ['100', '"100"'],
  ])('refuses sweepMs %s', (sweepMs, shown) => {
    const error = thrown(() => new RateLimiter({ perSecond: 1, sweepMs: sweepMs as number }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toBe(`Expected \`sweepMs\` to be a finite number > 0, got ${shown}`);
  });
});

describe('RateLimiter: the default burst, max(1, ceil(perSecond))', () => {
  it.each([
    [0.25, 1],
    [1, 1],
    [2.5, 3],
    [10, 10],
  ])('perSecond %s starts a key with %s tokens, and grants exactly that many at once', (perSecond, burst) => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perSecond, clock });
    expect(limiter.tokens('k')).toBe(burst);
    for (let i = 0; i < burst; i++) expect(limiter.take('k')).toBe(0);
    expect(limiter.take('k')).toBeGreaterThan(0);
    // Refilled for a long while, the bucket holds its burst again, no more.
    clock.advance(100_000);
    expect(limiter.tokens('k')).toBe(burst);
  });

  it('follows a per-key rate: each key its own default burst', () => {
    const limiter = new RateLimiter({
      perSecond: (key) => (key === 'big' ? 7.2 : 0.5),
      clock: new FakeClock(),
    });
    expect(limiter.tokens('big')).toBe(8);
    expect(limiter.tokens('small')).toBe(1);
  });
});

describe('RateLimiter: a burst given as a function of the key', () => {
  it('reads each key its own burst, once, when its bucket is made', () => {
    const clock = new FakeClock();
    const asked: string[] = [];
    const limiter = new RateLimiter({
      perSecond: 1,
      burst: (key) => {
        asked.push(key);
        return key === 'wide' ? 4 : 2;
      },
      clock,
    });
    expect([limiter.take('wide'), limiter.take('wide'), limiter.take('wide'), limiter.take('wide')]).toEqual([
      0, 0, 0, 0,
    ]);
    expect(limiter.take('wide')).toBe(1000);
    expect([limiter.take('narrow'), limiter.take('narrow'), limiter.take('narrow')]).toEqual([0, 0, 1000]);
    expect(asked).toEqual(['wide', 'narrow']);
  });

  it('refuses a bad size when the key is used, naming burst("key") and the value', async () => {
    const limiter = new RateLimiter({
      perSecond: 1,
      burst: (key) => (key === 'half' ? 1.5 : key === 'none' ? 0 : 2),
      clock: new FakeClock(),
    });
    expect(limiter.take('fine')).toBe(0);
    const error = thrown(() => limiter.take('half'));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).option).toBe('burst("half")');
    expect((error as Error).message).toBe('Expected `burst("half")` to be an integer >= 1, got 1.5');
    await expect(limiter.acquire('none')).rejects.toThrow(
      'Expected `burst("none")` to be an integer >= 1, got 0',
    );
    expect(() => limiter.tokens('none')).toThrow('Expected `burst("none")` to be an integer >= 1, got 0');
    expect(limiter.activeKeys).toBe(1);
  });
});
