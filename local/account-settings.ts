// Lambda's GetAccountSettings on the local Invoke endpoint (`GET /2016-08-19/account-settings/`), so `plan` can
// check the stack's reserved concurrency against an account's quota without AWS: the numbers are configurable
// (a new account: a quota of 10), and by default a quota of 1,000 less the local functions' reservations.
import { assertInteger, InvalidArgumentError } from '../lib/errors.js';

export const ACCOUNT_SETTINGS_ROUTE = /^\/2016-08-19\/account-settings\/?$/;

/** Lambda's default regional quota of concurrent executions. */
export const DEFAULT_CONCURRENT_EXECUTIONS = 1000;

export interface AccountSettingsOptions {
  /** AccountLimit.ConcurrentExecutions (default 1,000). */
  readonly concurrentExecutions?: number;
  /** AccountLimit.UnreservedConcurrentExecutions (default: the quota less the local functions' reservations). */
  readonly unreservedConcurrentExecutions?: number;
}

/** Checked when the server is built, so a bad number fails the test that gives it, not a later request. */
export function checkAccountSettings(options: AccountSettingsOptions = {}): AccountSettingsOptions {
  const { concurrentExecutions, unreservedConcurrentExecutions } = options;
  if (concurrentExecutions !== undefined)
    assertInteger('concurrentExecutions', concurrentExecutions, { min: 1 });
  if (unreservedConcurrentExecutions === undefined) return options;
  assertInteger('unreservedConcurrentExecutions', unreservedConcurrentExecutions, { min: 0 });
  const limit = concurrentExecutions ?? DEFAULT_CONCURRENT_EXECUTIONS;
  if (unreservedConcurrentExecutions > limit) {
    throw new InvalidArgumentError(
      'unreservedConcurrentExecutions',
      unreservedConcurrentExecutions,
      `at most concurrentExecutions (${limit})`,
    );
  }
  return options;
}

/** The GetAccountSettings answer, as Lambda's REST-JSON protocol shapes it. */
export function accountSettingsBody(
  options: AccountSettingsOptions,
  functions: readonly { readonly reservedConcurrency: number }[],
) {
  const limit = options.concurrentExecutions ?? DEFAULT_CONCURRENT_EXECUTIONS;
  const reserved = reservedTotal(functions);
  return {
    AccountLimit: {
      TotalCodeSize: 80_530_636_800,
      CodeSizeUnzipped: 262_144_000,
      CodeSizeZipped: 52_428_800,
      ConcurrentExecutions: limit,
      UnreservedConcurrentExecutions: options.unreservedConcurrentExecutions ?? Math.max(0, limit - reserved),
    },
    AccountUsage: { TotalCodeSize: 0, FunctionCount: functions.length },
  };
}

/** What the functions reserve of the account's concurrency (a function without a reservation counts 0). */
export function reservedTotal(functions: Iterable<{ readonly reservedConcurrency: number }>): number {
  let total = 0;
  for (const fn of functions) if (Number.isFinite(fn.reservedConcurrency)) total += fn.reservedConcurrency;
  return total;
}
