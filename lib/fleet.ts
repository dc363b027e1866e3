// The fleet: how many processes of the service can run at once in the cloud, from the config's concurrency
// values alone. The budget (lib/budget/), each process's share of the downstream hosts (lib/downstream/
// host-limits.ts) and the run limits (lib/ledger/run-limits.ts) all count it the same way, so it sits below them.
import { type FanoutConfig, reservationOf } from './config.js';

/**
 * Orchestrators the budget counts when orchestratorReservedConcurrency is "none": one job at a time, as when the
 * schedule fires less often than a job lasts. Nothing enforces it; the plan says so in its warnings.
 */
export const UNRESERVED_ORCHESTRATORS = 1;

/** The values that say how many processes of the fleet can run at once. */
export type FleetSize = Pick<
  FanoutConfig,
  | 'workerMaxConcurrency'
  | 'workerReservedConcurrency'
  | 'invokeConcurrency'
  | 'orchestratorReservedConcurrency'
>;

/**
 * The processes that can run at once in the cloud: worker instances from the queue and from the
 * orchestrators' direct invokes (their sum capped by the worker's reserved concurrency, when it has one), and
 * the orchestrators (their reserved concurrency, or UNRESERVED_ORCHESTRATORS without one). Each has its own
 * downstream policy, so each gets 1 / processes of every host's limits.
 */
export function fleetProcesses(config: FleetSize) {
  const orchestratorsReserved = reservationOf(config.orchestratorReservedConcurrency);
  const orchestrators = orchestratorsReserved ?? UNRESERVED_ORCHESTRATORS;
  const invokeWorkers = config.invokeConcurrency * orchestrators;
  // The poller and the direct invokes share the worker's reserved concurrency: it caps their sum. Without a
  // reservation, the event source's maximum and the invokes are the only bounds.
  const workerReserved = reservationOf(config.workerReservedConcurrency);
  const unreserved = config.workerMaxConcurrency + invokeWorkers;
  const workers = workerReserved === undefined ? unreserved : Math.min(workerReserved, unreserved);
  return {
    orchestrators,
    queueWorkers: config.workerMaxConcurrency,
    invokeWorkers,
    workers,
    processes: workers + orchestrators,
  };
}
