// The retry rules on their own: backoff bounds (property), Retry-After parsing in both forms, which
// statuses and methods are retried, and option validation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  defaultRetryOptions,
  isIdempotent,
  isRetryableStatus,
  parseRetryAfter,
  resolveRetryOptions,
} from '../../../lib/http/index.js';
import { InvalidArgumentError } from '../../../lib/index.js';

describe('backoffDelay', () => {
  it('is a whole number in [0, min(maxMs, baseMs * 2^(attempt-1))) for any jitter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, maxMs, jitter) => {
          const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
          const d = backoffDelay(attempt, { ...defaultRetryOptions, baseMs, maxMs }, () => jitter);
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(0);
          if (ceiling > 0) expect(d).toBeLessThan(ceiling);
          else expect(d).toBe(0);
        },
      ),
    );
  });

  it('doubles its ceiling per attempt until maxMs', () => {
    const r = resolveRetryOptions({ baseMs: 100, maxMs: 1000 });
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, r, top))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, r, () => 0)).toBe(0);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
  const cases: Array<[string | string[] | undefined, number | undefined]> = [
    ['0', 0],
    ['120', 120_000],
    [' 5 ', 5_000],
    [['3', '9'], 3_000],
    ['Wed, 21 Oct 2026 07:28:30 GMT', 30_000],
    ['Wednesday, 21-Oct-26 07:29:00 GMT', 60_000],
    ['Wed Oct 21 07:28:10 2026', 10_000],
    ['Wed, 21 Oct 2026 07:00:00 GMT', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2026-10-21T07:30:00Z', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} -> ${expected}`, () => {
      expect(parseRetryAfter(value, now)).toBe(expected);
    });
  }

  it('reads any delta-seconds exactly', () => {
    fc.assert(fc.property(fc.nat(10_000_000), (s) => parseRetryAfter(String(s), now) === s * 1000));
  });

  it('reads any IMF-fixdate to the second', () => {
    fc.assert(
      fc.property(fc.integer({ min: -86_400, max: 86_400 }), (s) => {
        const date = new Date(now + s * 1000).toUTCString();
        return parseRetryAfter(date, now) === Math.max(0, s * 1000);
      }),
    );
  });
});

describe('what is retried', () => {
  it('408, 425, 429 and 5xx, nothing else', () => {
    const retried = Array.from({ length: 500 }, (_, i) => i + 100).filter(isRetryableStatus);
    expect(retried).toEqual([408, 425, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)]);
  });

  it('idempotent methods only (RFC 9110), any case', () => {
    for (const m of ['GET', 'head', 'OPTIONS', 'TRACE', 'put', 'DELETE']) expect(isIdempotent(m)).toBe(true);
    for (const m of ['POST', 'patch', 'CONNECT', 'PROPFIND']) expect(isIdempotent(m)).toBe(false);
  });
});

describe('resolveRetryOptions', () => {
  it('fills the defaults of the issue', () => {
    expect(resolveRetryOptions()).toEqual({
      maxAttempts: 4,
      baseMs: 100,
      maxMs: 5000,
      maxRetryAfterMs: 30000,
    });
    expect(resolveRetryOptions({ maxAttempts: 1 })).toMatchObject({ maxAttempts: 1, baseMs: 100 });
  });

  const bad: Array<[object, string]> = [
    [{ maxAttempts: 0 }, 'Expected `retry.maxAttempts` to be an integer >= 1, got 0'],
    [{ maxAttempts: 2.5 }, 'Expected `retry.maxAttempts` to be an integer >= 1, got 2.5'],
    [{ baseMs: -1 }, 'Expected `retry.baseMs` to be an integer >= 0, got -1'],
    [{ maxMs: '5' }, 'Expected `retry.maxMs` to be an integer >= 0, got "5"'],
    [
      { maxRetryAfterMs: Number.POSITIVE_INFINITY },
      'Expected `retry.maxRetryAfterMs` to be an integer >= 0, got Infinity',
    ],
  ];
  for (const [retry, message] of bad) {
    it(message, () => {
      expect(() => resolveRetryOptions(retry)).toThrow(InvalidArgumentError);
      expect(() => resolveRetryOptions(retry)).toThrow(message);
    });
  }
});
