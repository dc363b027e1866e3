// The report built from the ledger's record and the result lines (local/report/ledger-report.ts) and its HTML
// page: counts from the record alone, failed tasks from the lines (dead-letter and undeliverable alike, capped
// per kind with the rest counted), limits lowered by the run's overrides, and a page that balances cancelled
// and undeliverable tasks, says a live run's counts are a snapshot, and draws no peaks it never observed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../lib/config.js';
import { type RunRecord, RunStatuses } from '../../../lib/ledger/run-record.js';
import { renderHtmlReport } from '../../../local/report/html.js';
import { ledgerReport } from '../../../local/report/ledger-report.js';

const record = (over: Partial<RunRecord> = {}): RunRecord => ({
  jobId: 'j',
  runId: 'r',
  status: RunStatuses.CANCELLED,
  startedAt: 1_000,
  finishedAt: 4_500,
  manifestDone: true,
  toleratedFailurePercent: 100,
  version: 3,
  submitted: 10,
  succeeded: 4,
  deadLettered: 2,
  undeliverable: 1,
  invalid: 1,
  cancelled: 2,
  ...over,
});

async function* from(lines: Record<string, unknown>[]) {
  yield* lines;
}

describe('ledgerReport', () => {
  it('takes counts from the record, failed tasks from the lines, limits lowered by the overrides', async () => {
    const report = await ledgerReport({
      record: record({ limits: { perInvocationConcurrency: 3, inlineConcurrency: 1_000 } }),
      config: defaultConfig,
      source: 'test',
      lines: from([
        { type: 'summary', jobId: 'j' },
        { type: 'dead-letter', task: { id: 'a', url: 'https://h/x' }, attempts: 2, error: 'HTTP 500' },
        { type: 'undeliverable', task: { id: 'b' }, attempts: 1, error: 'HTTP 400', sendError: 'too big' },
        { type: 'invalid', id: 'c', line: 7, error: 'url: expected https' },
      ]),
    });
    expect(report).toMatchObject({
      submitted: 10,
      succeeded: 4,
      deadLettered: 2,
      cancelled: 2,
      durationMs: 3_500,
    });
    expect(report.deadLetteredTasks).toEqual([
      { id: 'a', attempts: 2, error: 'HTTP 500', task: { id: 'a', url: 'https://h/x' } },
      { id: 'b', attempts: 1, error: 'HTTP 400; not delivered to the DLQ: too big', task: { id: 'b' } },
    ]);
    expect(report.invalidTasks).toEqual([{ id: 'c', line: 7, error: 'url: expected https' }]);
    // An override only lowers: 3 < the deployed 16; 1000 > the deployed inline limit, which stays.
    expect(report.limits.perInvocation).toBe(3);
    expect(report.limits.inline).toBe(defaultConfig.inlineConcurrency);
  });

  it('lists at most maxListed tasks of each kind and counts the rest', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(30),
        fc.nat(30),
        fc.integer({ min: 0, max: 10 }),
        async (dead, invalid, max) => {
          const lines = [
            ...Array.from({ length: dead }, (_, i) => ({
              type: 'dead-letter',
              task: { id: `d${i}` },
              error: 'e',
            })),
            ...Array.from({ length: invalid }, (_, i) => ({ type: 'invalid', id: `i${i}`, error: 'e' })),
          ];
          const report = await ledgerReport({
            record: record(),
            config: defaultConfig,
            source: 't',
            lines: from(lines),
            maxListed: max,
          });
          expect(report.deadLetteredTasks).toHaveLength(Math.min(dead, max));
          expect(report.invalidTasks).toHaveLength(Math.min(invalid, max));
          const notListed = Math.max(0, dead - max) + Math.max(0, invalid - max);
          expect(report.runtime?.notListed).toBe(notListed > 0 ? notListed : undefined);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('the HTML page of a ledger report', () => {
  it('balances cancelled and undeliverable tasks and shows limits, not peaks', async () => {
    const report = await ledgerReport({
      record: record(),
      config: defaultConfig,
      source: 't',
      lines: from([]),
    });
    const page = renderHtmlReport(report);
    expect(page).toContain('Every task accounted for: 10 of 10.');
    expect(page).toContain('<span>cancelled</span><b class="warn">2</b>');
    expect(page).toContain('<span>undeliverable</span><b class="bad">1</b>');
    expect(page).toContain('id="limits"');
    expect(page).toContain('id="unobserved"');
    expect(page).not.toContain('id="peaks"');
    expect(page).not.toContain('id="chart-');
  });

  it('says a live run has not ended instead of calling its counts a mismatch', async () => {
    const live = record({ status: RunStatuses.RUNNING, finishedAt: undefined, succeeded: 1, cancelled: 0 });
    const page = renderHtmlReport(
      await ledgerReport({ record: live, config: defaultConfig, source: 't', lines: from([]) }),
    );
    expect(page).toContain('The run is running: 5 of 10 submitted tasks have ended so far.');
    expect(page).not.toContain('Accounting mismatch');
  });
});
