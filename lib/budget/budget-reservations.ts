// The functions' reserved concurrency against the account's: what each choice (a number, or "none") bounds,
// what the stack takes from the account, and whether an account (Lambda GetAccountSettings) has room for it.
// Lambda refuses a reservation that leaves the account less than its minimum unreserved concurrency: 100, or
// the whole quota when the quota is 100 or less (a new account's 10), so such an account can reserve nothing.

import { type FanoutConfig, reservationOf } from '../config.js';
import { fleetProcesses, UNRESERVED_ORCHESTRATORS } from '../fleet.js';

/** What Lambda GetAccountSettings says of the account's concurrency (AccountLimit). */
export interface AccountConcurrency {
  /** AccountLimit.ConcurrentExecutions: the account's quota in the region. */
  readonly limit: number;
  /** AccountLimit.UnreservedConcurrentExecutions: the quota minus every function's reservation. */
  readonly unreserved: number;
}

/** Unreserved concurrency Lambda keeps back: 100, or the whole quota when it is 100 or less. */
export function minimumUnreserved(limit: number): number {
  return Math.min(100, limit);
}

type Reservations = Pick<
  FanoutConfig,
  | 'workerReservedConcurrency'
  | 'orchestratorReservedConcurrency'
  | 'workerMaxConcurrency'
  | 'invokeConcurrency'
>;

/** The concurrency the stack reserves: the worker's and the orchestrator's, "none" counting 0. */
export function stackReservations(config: Reservations) {
  const workerReserved = reservationOf(config.workerReservedConcurrency);
  const orchestratorsReserved = reservationOf(config.orchestratorReservedConcurrency);
  const worker = workerReserved ?? 0;
  const orchestrator = orchestratorsReserved ?? 0;
  const parts = [
    workerReserved !== undefined && `worker ${worker}`,
    orchestratorsReserved !== undefined && `orchestrator ${orchestrator}`,
  ].filter(Boolean);
  return { worker, orchestrator, total: worker + orchestrator, detail: parts.join(' + ') };
}

/** The fleet's counts with the reservations the stack makes (undefined for "none"). */
function withReservations(config: Reservations) {
  return {
    ...fleetProcesses(config),
    workerReserved: reservationOf(config.workerReservedConcurrency),
    orchestratorsReserved: reservationOf(config.orchestratorReservedConcurrency),
  };
}

const count = (n: number) => n.toLocaleString('en-US');

/** One line per function: what its reservation (or its absence) bounds, then what the stack needs of an account. */
export function reservationLines(config: Reservations): string[] {
  const k = withReservations(config);
  const worker =
    k.workerReserved === undefined
      ? `worker: not reserved ("none"): no cap of its own; the event source's maximum (${config.workerMaxConcurrency}) bounds the queue path and invokeConcurrency x orchestrators (${k.invokeWorkers}) the invoke path, ${k.workers} at once, from the account's shared pool (when the pool runs dry the poller is throttled, and throttled receives count toward maxReceiveCount)`
      : `worker: ${k.workerReserved} reserved: the hard cap on worker invocations, the poller and the direct invokes together, held for it whether used or not`;
  const orchestrator =
    k.orchestratorsReserved === undefined
      ? `orchestrator: not reserved ("none"): nothing caps the jobs running at once; the budget counts ${UNRESERVED_ORCHESTRATORS} (see the warnings)`
      : `orchestrator: ${k.orchestratorsReserved} reserved: at most ${k.orchestratorsReserved} job${k.orchestratorsReserved === 1 ? '' : 's'} (or continuations) at once; a schedule that fires meanwhile waits in Lambda's asynchronous queue`;
  const { total, detail } = stackReservations(config);
  const account =
    total === 0
      ? 'the stack reserves nothing: it deploys on any account, a new one with a quota of 10 included'
      : `the stack reserves ${count(total)} (${detail}): Lambda keeps 100 unreserved, so it needs a quota of at least ${count(total + 100)} (a new account's 10 cannot take it: set both to "none")`;
  return [worker, orchestrator, account];
}

/** Warnings of the plan about the reservations: what "none" leaves unbounded. */
export function reservationWarnings(config: Reservations): string[] {
  const k = withReservations(config);
  if (k.orchestratorsReserved !== undefined) return [];
  const warnings = [
    `orchestratorReservedConcurrency "none": nothing caps the orchestrators at once, and the budget counts ${UNRESERVED_ORCHESTRATORS}. A schedule that fires while a job still runs starts a second one beside it, and each more orchestrator adds ${config.invokeConcurrency} direct worker invocations and one more process to every downstream host, beyond the figures above.`,
  ];
  if (k.workerReserved !== undefined) {
    warnings.push(
      `workerReservedConcurrency ${k.workerReserved} counts the direct invokes of ${UNRESERVED_ORCHESTRATORS} orchestrator: a second orchestrator's invokes would throttle the poller. Reserve the orchestrator too, or set the worker to "none".`,
    );
  }
  return warnings;
}

export interface AccountFit {
  readonly account: AccountConcurrency;
  readonly reserved: number;
  readonly minimumUnreserved: number;
  /** What this account can still reserve: unreserved - minimum unreserved, at least 0. */
  readonly available: number;
  readonly fits: boolean;
  readonly lines: readonly string[];
}

/**
 * Whether the stack's reservations fit the account: their sum at most unreserved - minimum unreserved. (A
 * stack already deployed has its own reservations counted out of `unreserved` already.)
 */
export function accountFit(config: Reservations, account: AccountConcurrency): AccountFit {
  const { total, detail } = stackReservations(config);
  const keep = minimumUnreserved(account.limit);
  const available = Math.max(0, account.unreserved - keep);
  const fits = total <= available;
  const reserves = total === 0 ? 'reserves nothing' : `reserves ${count(total)} (${detail})`;
  const lines = [
    `limit ${count(account.limit)}, unreserved ${count(account.unreserved)}; Lambda keeps ${count(keep)} unreserved, so ${count(available)} can be reserved`,
    fits
      ? `this stack ${reserves}: it fits`
      : `this stack ${reserves}: it does not fit, cdk deploy would fail; set workerReservedConcurrency and orchestratorReservedConcurrency to "none" (the event source's maximum still bounds the queue path), or ask AWS for a higher Lambda concurrency quota`,
  ];
  const { processes } = fleetProcesses(config);
  if (processes > account.limit) {
    lines.push(
      `the budget's ${count(processes)} processes at once exceed the account's limit of ${count(account.limit)}: the rest are throttled (throttled SQS receives count toward maxReceiveCount)`,
    );
  }
  return { account, reserved: total, minimumUnreserved: keep, available, fits, lines };
}
