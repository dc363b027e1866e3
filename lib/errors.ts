// One base class with a stable `code`, one subclass per failure (undici's lib/core/errors.js shape).
// Callers branch on `code` or `instanceof`, never on message text.

import { ErrorCodes } from './error-codes.js';

export { type ErrorCode, ErrorCodes } from './error-codes.js';

export class BoundedFanoutError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BoundedFanoutError';
    this.code = code;
  }
}

/**
 * Bad input. Extends RangeError, so `instanceof RangeError` holds, and carries the option's name and the
 * value it got so the message can say both.
 */
export class InvalidArgumentError extends RangeError {
  readonly code = ErrorCodes.INVALID_ARGUMENT;
  readonly option: string;
  readonly value: unknown;
  constructor(option: string, value: unknown, expected: string) {
    super(`Expected \`${option}\` to be ${expected}, got ${describe(value)}`);
    this.name = 'InvalidArgumentError';
    this.option = option;
    this.value = value;
  }
}

export class QueueClosedError extends BoundedFanoutError {
  constructor(message = 'The queue is closed') {
    super(message, ErrorCodes.QUEUE_CLOSED);
    this.name = 'QueueClosedError';
  }
}

export class QueueFullError extends BoundedFanoutError {
  constructor(message = 'The queue is full') {
    super(message, ErrorCodes.QUEUE_FULL);
    this.name = 'QueueFullError';
  }
}

export class TimeoutError extends BoundedFanoutError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number, what = 'Operation') {
    super(`${what} timed out after ${timeoutMs} ms`, ErrorCodes.TIMEOUT);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

export class AbortError extends BoundedFanoutError {
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super(message, ErrorCodes.ABORTED, options);
    this.name = 'AbortError';
  }
}

/** A value as it should appear in an error message: strings quoted, everything else as JS would print it. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Throws InvalidArgumentError unless `value` is an integer >= min (Infinity allowed when asked). */
export function assertInteger(
  option: string,
  value: unknown,
  { min = 1, allowInfinity = false } = {},
): number {
  const ok =
    typeof value === 'number' &&
    ((Number.isInteger(value) && value >= min) || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) {
    const expected = `an integer >= ${min}${allowInfinity ? ' or Infinity' : ''}`;
    throw new InvalidArgumentError(option, value, expected);
  }
  return value;
}
