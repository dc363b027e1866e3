// Bad usage of the command line: a flag the command does not know, a missing or malformed value, a file that
// is not there. The message names the flag and the value; the CLI prints it on one line and exits 2.
import { BoundedFanoutError, describe, ErrorCodes } from '../../lib/errors.js';

export class UsageError extends BoundedFanoutError {
  readonly flag?: string;
  readonly value?: unknown;
  constructor(
    message: string,
    { flag, value }: { flag?: string; value?: unknown } = {},
    options?: ErrorOptions,
  ) {
    super(message, ErrorCodes.USAGE, options);
    this.name = 'UsageError';
    this.flag = flag;
    this.value = value;
  }

  /** `--flag: expected <what>, got <value>` */
  static invalid(flag: string, value: unknown, expected: string): UsageError {
    return new UsageError(`${flag}: expected ${expected}, got ${describe(value)}`, { flag, value });
  }
}
