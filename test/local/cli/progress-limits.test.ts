// The limits the progress display shows: the config's, lowered by the job header's, then by the run's overrides;
// never raised by either. Properties over any header and overrides, and the socket sum as the report's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../lib/config.js';
import { progressLimits } from '../../../local/cli/progress-limits.js';
import { socketLimits } from '../../../local/report/assemble.js';

const config = defaultConfig;
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const header = fc.record(
  { inline: maybe(fc.integer({ min: 1, max: 10_000 })), invoke: maybe(fc.integer({ min: 1, max: 1_000 })) },
  { requiredKeys: [] },
);
const overrides = fc.record(
  {
    inlineConcurrency: maybe(fc.integer({ min: 1, max: 10_000 })),
    perInvocationConcurrency: maybe(fc.integer({ min: 1, max: 10_000 })),
  },
  { requiredKeys: [] },
);

describe('progressLimits', () => {
  it('with neither a header nor overrides, is the config, the sockets the budget sum the report uses', () => {
    expect(progressLimits(config, undefined, undefined)).toEqual({
      inline: config.inlineConcurrency,
      workers: config.workerMaxConcurrency,
      sockets: socketLimits(config).all,
    });
  });

  it('workers are the event source’s maximum as the runtime has it now, the config’s when not given', () => {
    fc.assert(
      fc.property(header, overrides, fc.integer({ min: 2, max: 1_000 }), (job, run, now) => {
        expect(progressLimits(config, job, run, now).workers).toBe(now);
        expect(progressLimits(config, job, run).workers).toBe(config.workerMaxConcurrency);
      }),
    );
  });

  it('inline is the least of the config, the header and the override; workers stay the config', () => {
    fc.assert(
      fc.property(header, overrides, (job, run) => {
        const shown = progressLimits(config, job, run);
        const expected = Math.min(
          config.inlineConcurrency,
          job.inline ?? Number.POSITIVE_INFINITY,
          run.inlineConcurrency ?? Number.POSITIVE_INFINITY,
        );
        expect(shown.inline).toBe(expected);
        expect(shown.workers).toBe(config.workerMaxConcurrency);
      }),
    );
  });

  it('a header or an override never raises the socket limit; a lower perInvocationConcurrency never raises it either', () => {
    fc.assert(
      fc.property(header, overrides, fc.integer({ min: 1, max: 10_000 }), (job, run, per) => {
        const base = progressLimits(config, undefined, undefined).sockets;
        const withHeader = progressLimits(config, job, undefined).sockets;
        const withBoth = progressLimits(config, job, run).sockets;
        expect(withHeader).toBeLessThanOrEqual(base);
        expect(withBoth).toBeLessThanOrEqual(withHeader);
        const atPer = progressLimits(config, job, { ...run, perInvocationConcurrency: per }).sockets;
        const atLess = progressLimits(config, job, {
          ...run,
          perInvocationConcurrency: Math.max(1, per - 1),
        });
        expect(atLess.sockets).toBeLessThanOrEqual(atPer);
      }),
    );
  });

  it('the socket sum follows the limits shown, as the budget counts them', () => {
    fc.assert(
      fc.property(header, overrides, (job, run) => {
        const shown = progressLimits(config, job, run);
        const perInvocation = Math.min(
          config.perInvocationConcurrency,
          run.perInvocationConcurrency ?? Number.POSITIVE_INFINITY,
        );
        expect(shown.sockets).toBe(
          socketLimits({
            ...config,
            inlineConcurrency: shown.inline,
            invokeConcurrency: Math.min(config.invokeConcurrency, job.invoke ?? Number.POSITIVE_INFINITY),
            perInvocationConcurrency: perInvocation,
          }).all,
        );
      }),
    );
  });
});
