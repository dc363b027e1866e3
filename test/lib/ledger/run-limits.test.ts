import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUDGET_ERROR_CODE, BudgetError } from '../../../lib/budget/index.js';
import { type FanoutConfig, withDefaults } from '../../../lib/config.js';
import { mergeRunLimits, parseRunLimits } from '../../../lib/ledger/run-limits.js';
import { RUNS } from '../../helpers/runs.js';

const deployed: FanoutConfig = withDefaults({
  perInvocationConcurrency: 16,
  inlineConcurrency: 32,
  workerMaxConcurrency: 10,
  workerReservedConcurrency: 14,
  invokeConcurrency: 4,
  orchestratorReservedConcurrency: 1,
  downstream: {
    'api.example.com': { maxConcurrency: 40, maxRequestsPerSecond: 50 },
    'plain.example.com:8443': {},
  },
});

function refusal(pairs: readonly string[], config = deployed): BudgetError {
  try {
    parseRunLimits(pairs, config);
  } catch (error) {
    expect(error).toBeInstanceOf(BudgetError);
    return error as BudgetError;
  }
  throw new Error(`parseRunLimits accepted ${pairs.join(' ')}`);
}

describe('parseRunLimits', () => {
  it('parses every key into the run overrides and the worker settings', () => {
    const request = parseRunLimits(
      [
        'perInvocationConcurrency=4',
        'inlineConcurrency=8',
        'downstream.api.example.com.maxConcurrency=20',
        'downstream.api.example.com.maxRequestsPerSecond=2.5',
        'downstream.plain.example.com:8443.maxConcurrency=15',
        'eventSourceMaxConcurrency=5',
        'workerReservedConcurrency=9',
      ],
      deployed,
    );
    expect(request).toEqual({
      limits: {
        perInvocationConcurrency: 4,
        inlineConcurrency: 8,
        downstream: {
          'api.example.com': { maxConcurrency: 20, maxRequestsPerSecond: 2.5 },
          'plain.example.com:8443': { maxConcurrency: 15 },
        },
      },
      worker: { eventSourceMaxConcurrency: 5, workerReservedConcurrency: 9 },
    });
  });

  it('accepts the deployed values themselves', () => {
    expect(
      parseRunLimits(
        ['perInvocationConcurrency=16', 'downstream.api.example.com.maxRequestsPerSecond=50'],
        deployed,
      ),
    ).toEqual({
      limits: {
        perInvocationConcurrency: 16,
        downstream: { 'api.example.com': { maxRequestsPerSecond: 50 } },
      },
      worker: {},
    });
  });

  it('refuses a value above the deployed one with the budget error and message', () => {
    const error = refusal(['perInvocationConcurrency=17']);
    expect(error.code).toBe(BUDGET_ERROR_CODE);
    expect(error.message).toBe(
      'Invalid concurrency budget (1 problem):\n' +
        '  - perInvocationConcurrency: 17 is above the deployed perInvocationConcurrency (16): an override only lowers what the budget proved at synth',
    );
  });

  it('lists every problem at once, each naming its key and value', () => {
    const error = refusal([
      'inlineConcurrency=0',
      'perInvocationConcurrency=two',
      'downstream.api.example.com.maxConcurrency=41',
      'downstream.api.example.com.maxRequestsPerSecond=0',
      'downstream.other.example.com.maxConcurrency=1',
      'eventSourceMaxConcurrency=1',
      'workerReservedConcurrency=15',
      'maxSockets=3',
      'oops',
      'inlineConcurrency=2',
    ]);
    expect(error.message.split('\n')).toEqual([
      'Invalid concurrency budget (10 problems):',
      '  - downstream.other.example.com.maxConcurrency: "1" names host "other.example.com", not in the config\'s downstream (declared: api.example.com, plain.example.com:8443)',
      '  - maxSockets: "3" is not a limit: the keys are perInvocationConcurrency, inlineConcurrency, downstream.<host>.maxConcurrency, downstream.<host>.maxRequestsPerSecond, eventSourceMaxConcurrency, workerReservedConcurrency',
      '  - limits: "oops" is not KEY=VALUE',
      '  - inlineConcurrency: "2" is given twice',
      '  - inlineConcurrency: "0" is not a whole number >= 1',
      '  - perInvocationConcurrency: "two" is not a whole number >= 1',
      '  - downstream.api.example.com.maxConcurrency: 41 is above the deployed downstream["api.example.com"].maxConcurrency (40): an override only lowers what the budget proved at synth',
      '  - downstream.api.example.com.maxRequestsPerSecond: "0" is not a number above 0',
      '  - eventSourceMaxConcurrency: 1 is below 2 (the SQS event source takes 2..1000)',
      '  - workerReservedConcurrency: 15 is above the deployed workerReservedConcurrency (14): an override only lowers what the budget proved at synth',
    ]);
  });

  it("refuses a host's maxConcurrency below the fleet's processes, as the budget does, unless the host is shared", () => {
    // 14 workers + 1 orchestrator, each held to at least 1 request: 15 at once whatever the override says.
    expect(refusal(['downstream.api.example.com.maxConcurrency=14']).message).toBe(
      'Invalid concurrency budget (1 problem):\n' +
        "  - downstream.api.example.com.maxConcurrency: 14 is below 15 processes (14 workers + 1 orchestrator) x 1 request each = 15 concurrent requests to api.example.com: each process's share (14 / 15) is raised to the minimum of 1; lower workerMaxConcurrency, invokeConcurrency or orchestratorReservedConcurrency, or raise maxConcurrency to 15, or declare it shared: true (leases across the fleet)",
    );
    expect(refusal(['downstream.plain.example.com:8443.maxConcurrency=1']).message).toContain(
      '1 is below 15 processes',
    );
    const leased = withDefaults({
      ...deployed,
      downstream: { 'api.example.com': { maxConcurrency: 40, shared: true } },
    });
    expect(parseRunLimits(['downstream.api.example.com.maxConcurrency=1'], leased).limits).toEqual({
      downstream: { 'api.example.com': { maxConcurrency: 1 } },
    });
  });

  it("refuses a worker reservation below the event source's maximum plus the direct invokes", () => {
    expect(refusal(['workerReservedConcurrency=13']).message).toBe(
      'Invalid concurrency budget (1 problem):\n' +
        '  - workerReservedConcurrency: 13 is below workerMaxConcurrency + invokeConcurrency x orchestrators = 10 + 4 x 1 = 14: the poller would be throttled, and throttled messages count toward maxReceiveCount and reach the dead-letter queue unprocessed',
    );
    expect(refusal(['eventSourceMaxConcurrency=6', 'workerReservedConcurrency=9']).message).toContain(
      'workerReservedConcurrency: 9 is below eventSourceMaxConcurrency + invokeConcurrency x orchestrators = 6 + 4 x 1 = 10',
    );
    expect(
      parseRunLimits(['eventSourceMaxConcurrency=6', 'workerReservedConcurrency=10'], deployed).worker,
    ).toEqual({ eventSourceMaxConcurrency: 6, workerReservedConcurrency: 10 });
  });

  it("takes any reservation up to the invokes' need when none is deployed, and says none is declared for a host", () => {
    const unreserved = withDefaults({ workerReservedConcurrency: 'none', downstream: {} });
    expect(parseRunLimits(['workerReservedConcurrency=500'], unreserved).worker).toEqual({
      workerReservedConcurrency: 500,
    });
    expect(refusal(['downstream.a.maxConcurrency=1'], unreserved).message).toContain(
      'downstream.a.maxConcurrency: "1" names host "a", not in the config\'s downstream (none declared)',
    );
  });

  it('refuses a host named after an Object property (__proto__, constructor, toString): none is declared', () => {
    // `in` would find them on every object's prototype: each passed as declared, bounded by nothing.
    const error = refusal([
      'downstream.__proto__.maxConcurrency=100000',
      'downstream.constructor.maxConcurrency=100000',
      'downstream.toString.maxRequestsPerSecond=5',
    ]);
    const declared = '(declared: api.example.com, plain.example.com:8443)';
    expect(error.message.split('\n')).toEqual([
      'Invalid concurrency budget (3 problems):',
      `  - downstream.__proto__.maxConcurrency: "100000" names host "__proto__", not in the config's downstream ${declared}`,
      `  - downstream.constructor.maxConcurrency: "100000" names host "constructor", not in the config's downstream ${declared}`,
      `  - downstream.toString.maxRequestsPerSecond: "5" names host "toString", not in the config's downstream ${declared}`,
    ]);
  });

  it('lets a host with no declared limit get one (it can only lower the worst case)', () => {
    expect(
      parseRunLimits(['downstream.plain.example.com:8443.maxRequestsPerSecond=1000'], deployed).limits,
    ).toEqual({
      downstream: { 'plain.example.com:8443': { maxRequestsPerSecond: 1000 } },
    });
  });

  it('property: an accepted override is never above the deployed value; a refused one names its key and value', () => {
    const keys = [
      ['perInvocationConcurrency', (c: FanoutConfig) => c.perInvocationConcurrency],
      ['inlineConcurrency', (c: FanoutConfig) => c.inlineConcurrency],
      ['downstream.h.example.maxConcurrency', (c: FanoutConfig) => c.downstream['h.example']?.maxConcurrency],
      [
        'downstream.h.example.maxRequestsPerSecond',
        (c: FanoutConfig) => c.downstream['h.example']?.maxRequestsPerSecond,
      ],
      ['eventSourceMaxConcurrency', (c: FanoutConfig) => c.workerMaxConcurrency],
    ] as const;
    // Small ranges on both sides, so values land on, just under and just over the deployed ones.
    const configs = fc
      .record({
        perInvocationConcurrency: fc.integer({ min: 1, max: 20 }),
        inlineConcurrency: fc.integer({ min: 1, max: 20 }),
        workerMaxConcurrency: fc.integer({ min: 2, max: 20 }),
        maxConcurrency: fc.integer({ min: 1, max: 20 }),
        maxRequestsPerSecond: fc.integer({ min: 1, max: 20 }),
      })
      .map(({ maxConcurrency, maxRequestsPerSecond, ...rest }) =>
        withDefaults({
          ...rest,
          workerReservedConcurrency: 'none',
          downstream: { 'h.example': { maxConcurrency, maxRequestsPerSecond } },
        }),
      );
    const values = fc.oneof(
      fc.integer({ min: -2, max: 22 }).map(String),
      fc.constantFrom('', 'x', '1.5', '20.5', '1e3', '-0', ' 3 '),
    );
    const chosen = fc.uniqueArray(fc.tuple(fc.constantFrom(...keys.keys()), values), {
      minLength: 1,
      maxLength: keys.length,
      selector: ([index]) => index,
    });
    fc.assert(
      fc.property(configs, chosen, (config, picks) => {
        const pairs = picks.map(([index, value]) => `${keys[index]![0]}=${value}`);
        let request: ReturnType<typeof parseRunLimits>;
        try {
          request = parseRunLimits(pairs, config);
        } catch (error) {
          expect(error).toBeInstanceOf(BudgetError);
          const problems = (error as BudgetError).problems;
          for (const { path, value } of problems) {
            expect(pairs.map((pair) => pair.replace(/\s/g, ''))).toContain(`${path}=${value}`);
            expect((error as BudgetError).message).toContain(`${path}: `);
          }
          return;
        }
        const accepted = [
          ['perInvocationConcurrency', request.limits.perInvocationConcurrency],
          ['inlineConcurrency', request.limits.inlineConcurrency],
          ['downstream.h.example.maxConcurrency', request.limits.downstream?.['h.example']?.maxConcurrency],
          [
            'downstream.h.example.maxRequestsPerSecond',
            request.limits.downstream?.['h.example']?.maxRequestsPerSecond,
          ],
          ['eventSourceMaxConcurrency', request.worker.eventSourceMaxConcurrency],
        ] as const;
        expect(accepted.filter(([, v]) => v !== undefined)).toHaveLength(pairs.length);
        for (const [key, value] of accepted) {
          if (value === undefined) continue;
          const bound = keys.find(([k]) => k === key)![1](config)!;
          expect(value).toBeGreaterThanOrEqual(key === 'eventSourceMaxConcurrency' ? 2 : 1);
          expect(value).toBeLessThanOrEqual(bound);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('mergeRunLimits', () => {
  it("lays the new overrides over the record's, host by host", () => {
    expect(
      mergeRunLimits(
        { perInvocationConcurrency: 4, downstream: { a: { maxConcurrency: 3 }, b: { maxConcurrency: 1 } } },
        { inlineConcurrency: 2, downstream: { a: { maxRequestsPerSecond: 5 } } },
      ),
    ).toEqual({
      perInvocationConcurrency: 4,
      inlineConcurrency: 2,
      downstream: { a: { maxConcurrency: 3, maxRequestsPerSecond: 5 }, b: { maxConcurrency: 1 } },
    });
    expect(mergeRunLimits(undefined, { perInvocationConcurrency: 1 })).toEqual({
      perInvocationConcurrency: 1,
    });
  });
});
