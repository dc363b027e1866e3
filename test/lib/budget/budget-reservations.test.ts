// Reserved concurrency "none" (no reservation) and the account check: what the fleet counts without a
// reservation, what the plan says each choice bounds, and whether an account's quota has room for the stack.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accountFit,
  checkBudget,
  fleetProcesses,
  minimumUnreserved,
  planBudget,
  reservationLines,
  stackReservations,
} from '../../../lib/budget/index.js';
import { defaultConfig, type FanoutConfig, withDefaults } from '../../../lib/config.js';
import { RUNS } from '../../helpers/runs.js';

const none = withDefaults({ workerReservedConcurrency: 'none', orchestratorReservedConcurrency: 'none' });
const messages = (config: FanoutConfig) =>
  checkBudget(config).map(({ path, value, message }) => `${path}: ${JSON.stringify(value)} ${message}`);

describe('reserved concurrency "none"', () => {
  it('is accepted for both functions; 0 and other values are named', () => {
    expect(checkBudget(none)).toEqual([]);
    expect(
      messages(
        withDefaults({ workerReservedConcurrency: 0, orchestratorReservedConcurrency: 'None' as never }),
      ),
    ).toEqual([
      'workerReservedConcurrency: 0 is not allowed: Lambda\'s reserved concurrency 0 throttles every invocation; "none" leaves the function unreserved',
      'orchestratorReservedConcurrency: "None" is not a whole number >= 1 or "none" (no reservation)',
    ]);
  });

  it('leaves the worker bounded by the event source maximum plus the invokes', () => {
    // Reserved: min(14, 20 + 4) = 14, and validateBudget refuses 14 < 24. Unreserved: 20 + 4 = 24.
    const wide = { ...none, workerMaxConcurrency: 20 };
    expect(fleetProcesses(wide)).toEqual({
      orchestrators: 1,
      queueWorkers: 20,
      invokeWorkers: 4,
      workers: 24,
      processes: 25,
    });
    expect(checkBudget(wide)).toEqual([]);
    expect(messages({ ...defaultConfig, workerMaxConcurrency: 20 })[0]).toMatch(
      /^workerReservedConcurrency: 14 is below workerMaxConcurrency \+ invokeConcurrency x orchestratorReservedConcurrency = 20 \+ 4 x 1 = 24/,
    );
  });

  it('counts one orchestrator when it is not reserved, and says the worker reservation assumes it', () => {
    const config = withDefaults({ orchestratorReservedConcurrency: 'none', workerReservedConcurrency: 12 });
    expect(messages(config)).toEqual([
      'workerReservedConcurrency: 12 is below workerMaxConcurrency + invokeConcurrency x orchestrators (not reserved: counted as 1) = 10 + 4 x 1 = 14: the poller would be throttled, and throttled messages count toward maxReceiveCount and reach the dead-letter queue unprocessed',
    ]);
    const plan = planBudget(withDefaults({ orchestratorReservedConcurrency: 'none' }), {
      tasks: 1000,
      latencyMs: 100,
    });
    expect(plan.concurrency.orchestrators).toBe(1);
    expect(plan.warnings.slice(-2)).toEqual([
      'orchestratorReservedConcurrency "none": nothing caps the orchestrators at once, and the budget counts 1. A schedule that fires while a job still runs starts a second one beside it, and each more orchestrator adds 4 direct worker invocations and one more process to every downstream host, beyond the figures above.',
      'workerReservedConcurrency 14 counts the direct invokes of 1 orchestrator: a second orchestrator\'s invokes would throttle the poller. Reserve the orchestrator too, or set the worker to "none".',
    ]);
  });

  it('says what each choice bounds, and what the stack needs of an account', () => {
    expect(reservationLines(defaultConfig)).toEqual([
      'worker: 14 reserved: the hard cap on worker invocations, the poller and the direct invokes together, held for it whether used or not',
      "orchestrator: 1 reserved: at most 1 job (or continuations) at once; a schedule that fires meanwhile waits in Lambda's asynchronous queue",
      'the stack reserves 15 (worker 14 + orchestrator 1): Lambda keeps 100 unreserved, so it needs a quota of at least 115 (a new account\'s 10 cannot take it: set both to "none")',
    ]);
    expect(reservationLines(none)).toEqual([
      'worker: not reserved ("none"): no cap of its own; the event source\'s maximum (10) bounds the queue path and invokeConcurrency x orchestrators (4) the invoke path, 14 at once, from the account\'s shared pool (when the pool runs dry the poller is throttled, and throttled receives count toward maxReceiveCount)',
      'orchestrator: not reserved ("none"): nothing caps the jobs running at once; the budget counts 1 (see the warnings)',
      'the stack reserves nothing: it deploys on any account, a new one with a quota of 10 included',
    ]);
  });
});

describe('accountFit', () => {
  it('keeps 100 unreserved, or the whole quota when it is 100 or less', () => {
    expect([10, 50, 100, 101, 1000].map(minimumUnreserved)).toEqual([10, 50, 100, 100, 100]);
  });

  it("refuses the default reservations on a new account's quota of 10", () => {
    const fit = accountFit(defaultConfig, { limit: 10, unreserved: 10 });
    expect(fit).toMatchObject({ reserved: 15, minimumUnreserved: 10, available: 0, fits: false });
    expect(fit.lines).toEqual([
      'limit 10, unreserved 10; Lambda keeps 10 unreserved, so 0 can be reserved',
      'this stack reserves 15 (worker 14 + orchestrator 1): it does not fit, cdk deploy would fail; set workerReservedConcurrency and orchestratorReservedConcurrency to "none" (the event source\'s maximum still bounds the queue path), or ask AWS for a higher Lambda concurrency quota',
      "the budget's 15 processes at once exceed the account's limit of 10: the rest are throttled (throttled SQS receives count toward maxReceiveCount)",
    ]);
  });

  it('fits "none" on that account, and the defaults on a quota of 1,000', () => {
    expect(accountFit(none, { limit: 10, unreserved: 10 })).toMatchObject({ reserved: 0, fits: true });
    expect(accountFit(none, { limit: 10, unreserved: 10 }).lines[1]).toBe(
      'this stack reserves nothing: it fits',
    );
    const big = accountFit(defaultConfig, { limit: 1000, unreserved: 1000 });
    expect(big.lines).toEqual([
      'limit 1,000, unreserved 1,000; Lambda keeps 100 unreserved, so 900 can be reserved',
      'this stack reserves 15 (worker 14 + orchestrator 1): it fits',
    ]);
    // Other functions already reserve 890: 10 left above the minimum, 15 needed.
    expect(accountFit(defaultConfig, { limit: 1000, unreserved: 110 }).fits).toBe(false);
  });

  it('fits exactly when the account keeps its minimum unreserved after the stack reserves', () => {
    const reservation = fc.oneof(fc.constant('none' as const), fc.integer({ min: 1, max: 2000 }));
    fc.assert(
      fc.property(
        reservation,
        reservation,
        fc.integer({ min: 1, max: 20_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (worker, orchestrator, limit, share) => {
          const config = {
            ...defaultConfig,
            workerReservedConcurrency: worker,
            orchestratorReservedConcurrency: orchestrator,
          };
          const unreserved = Math.floor(limit * share);
          const fit = accountFit(config, { limit, unreserved });
          const total = stackReservations(config).total;
          expect(total).toBe((worker === 'none' ? 0 : worker) + (orchestrator === 'none' ? 0 : orchestrator));
          expect(fit.fits).toBe(unreserved - total >= minimumUnreserved(limit) || total === 0);
          expect(fit.available).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
