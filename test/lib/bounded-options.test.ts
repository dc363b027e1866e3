// validateBoundedArgs, the checks runBounded and mapBounded share: each bad argument refused with the exact
// error (class, code, the option it names, the value, the message), and each good shape let through. The first
// mutation run of lib/bounded-options.ts (session 7: 87.93) found `source === null`, the iterable check,
// `options === null` and the signal check not each pinned: without them a bad value fails later, with a
// TypeError or another option's error.
import { describe, expect, it } from 'vitest';
import { validateBoundedArgs } from '../../lib/bounded-options.js';
import { ErrorCodes, InvalidArgumentError } from '../../lib/errors.js';
import { mapBounded } from '../../lib/map-bounded.js';
import { runBounded } from '../../lib/run-bounded.js';
import { Semaphore } from '../../lib/semaphore.js';

const fn = async () => {};
const ok = { concurrency: 1 };

/** The error `call` throws, so each of its fields can be checked (toThrow checks only the message). */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function expectRefused(call: () => unknown, option: string, value: unknown, message: string): void {
  const error = thrown(call);
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(error).toBeInstanceOf(RangeError);
  expect(error).toMatchObject({
    name: 'InvalidArgumentError',
    code: ErrorCodes.INVALID_ARGUMENT,
    option,
    message,
  });
  expect((error as InvalidArgumentError).value).toBe(value);
}

describe('validateBoundedArgs', () => {
  it('refuses a source that is null, a primitive or a non-iterable object, naming it', () => {
    const expected = 'an iterable or an async iterable';
    const cases: [unknown, string][] = [
      [null, 'null'],
      [undefined, 'undefined'],
      [42, '42'],
      // A string is iterable, but a task per character is never what was meant.
      ['abc', '"abc"'],
      [{}, '{}'],
      [{ next() {} }, '{}'], // an iterator without Symbol.iterator
      [Object.assign(() => {}, { [Symbol.iterator]: () => [][Symbol.iterator]() }), 'a function'],
    ];
    for (const [source, shown] of cases) {
      expectRefused(
        () => validateBoundedArgs(source, fn, ok),
        'source',
        source,
        `Expected \`source\` to be ${expected}, got ${shown}`,
      );
    }
  });

  it('takes a sync iterable, an async iterable, and one with both', () => {
    async function* gen() {}
    const both = { [Symbol.iterator]: () => [][Symbol.iterator](), [Symbol.asyncIterator]: gen };
    for (const source of [
      [],
      new Set([1]),
      (function* () {})(),
      gen(),
      { [Symbol.asyncIterator]: gen },
      both,
    ]) {
      expect(validateBoundedArgs(source, fn, ok)).toEqual({
        concurrency: 1,
        signal: undefined,
        stopOnError: false,
      });
    }
  });

  it('refuses a fn that is not a function', () => {
    expectRefused(
      () => validateBoundedArgs([], 'f', ok),
      'fn',
      'f',
      'Expected `fn` to be a function, got "f"',
    );
  });

  it('refuses options that are null or not an object, naming them rather than `concurrency`', () => {
    const cases: [unknown, string][] = [
      [null, 'null'],
      [undefined, 'undefined'],
      [4, '4'],
      ['x', '"x"'],
    ];
    for (const [options, shown] of cases) {
      expectRefused(
        () => validateBoundedArgs([], fn, options),
        'options',
        options,
        `Expected \`options\` to be an object with \`concurrency\`, got ${shown}`,
      );
    }
  });

  it('refuses a concurrency that is neither a count nor a Semaphore', () => {
    for (const [concurrency, shown] of [
      [0, '0'],
      [1.5, '1.5'],
      ['2', '"2"'],
      [undefined, 'undefined'],
    ] as const) {
      expectRefused(
        () => validateBoundedArgs([], fn, { concurrency }),
        'concurrency',
        concurrency,
        `Expected \`concurrency\` to be an integer >= 1 or Infinity, got ${shown}`,
      );
    }
  });

  it('refuses a signal that is not an AbortSignal, and lets an AbortSignal or none through', () => {
    const fake = { aborted: false, addEventListener() {} };
    for (const [signal, shown] of [
      [fake, '{"aborted":false}'],
      [null, 'null'],
      ['s', '"s"'],
    ] as const) {
      expectRefused(
        () => validateBoundedArgs([], fn, { concurrency: 1, signal }),
        'signal',
        signal,
        `Expected \`signal\` to be an AbortSignal, got ${shown}`,
      );
    }
    const signal = new AbortController().signal;
    expect(validateBoundedArgs([], fn, { concurrency: 1, signal }).signal).toBe(signal);
    expect(validateBoundedArgs([], fn, { concurrency: 1, signal: undefined }).signal).toBeUndefined();
  });

  it('refuses a stopOnError that is not a boolean, and defaults it to false', () => {
    expectRefused(
      () => validateBoundedArgs([], fn, { concurrency: 1, stopOnError: 1 }),
      'stopOnError',
      1,
      'Expected `stopOnError` to be a boolean, got 1',
    );
    expect(validateBoundedArgs([], fn, { concurrency: 1 }).stopOnError).toBe(false);
    expect(validateBoundedArgs([], fn, { concurrency: 1, stopOnError: true }).stopOnError).toBe(true);
  });

  it('returns only the three options it knows, a Semaphore and Infinity as they came', () => {
    const sem = new Semaphore(2);
    const extra = { concurrency: sem, stopOnError: true, other: 1 };
    const validated = validateBoundedArgs([], fn, extra);
    expect(validated).toEqual({ concurrency: sem, signal: undefined, stopOnError: true });
    expect(validated.concurrency).toBe(sem);
    expect(validateBoundedArgs([], fn, { concurrency: Infinity }).concurrency).toBe(Infinity);
  });

  it('checks the source before fn, and fn before the options', () => {
    expectRefused(
      () => validateBoundedArgs(null, null, null),
      'source',
      null,
      'Expected `source` to be an iterable or an async iterable, got null',
    );
    expectRefused(
      () => validateBoundedArgs([], null, null),
      'fn',
      null,
      'Expected `fn` to be a function, got null',
    );
  });

  it('is what runBounded rejects with and mapBounded throws, before fn is called', async () => {
    let calls = 0;
    const counted = async () => {
      calls++;
    };
    const run = runBounded(null as unknown as number[], counted, ok);
    await expect(run).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(run).rejects.toMatchObject({ option: 'source', code: ErrorCodes.INVALID_ARGUMENT });
    expectRefused(
      () => mapBounded([1], counted, null as unknown as typeof ok),
      'options',
      null,
      'Expected `options` to be an object with `concurrency`, got null',
    );
    expect(calls).toBe(0);
  });
});
