// The report built from the ledger's record and the result lines (local/report/ledger-report.ts) and its HTML
// page: counts from the record alone, failed tasks from the lines (dead-letter and undeliverable alike, capped
// per kind with the rest counted), limits lowered by the run's overrides, and a page that balances cancelled
// and undeliverable tasks, says a live run's counts are a snapshot, and draws no peaks it never observed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { defaultConfig, OverlapPolicies } from '../../../lib/config.js';
import { type MovedAs, movedKey, movedState } from '../../../lib/ledger/ledger-keys.js';
import { type RunRecord, RunStatuses } from '../../../lib/ledger/run-record.js';
import { type MovedCheck, movedIn } from '../../../local/report/dead-lettered.js';
import { renderHtmlReport } from '../../../local/report/html.js';
import { ledgerReport } from '../../../local/report/ledger-report.js';
import { freshJobTable } from '../fixtures/aws.js';

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
            // Counts that agree with the lines: the failed tasks not listed are counted from the ledger's.
            record: record({ deadLettered: dead, undeliverable: 0, invalid }),
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

describe('ledgerReport: failed tasks as the ledger has them', () => {
  // A live run's lines are its parts: a redriven task that fails again adds a line of its own, and one that
  // now succeeded keeps its old line, while the ledger counts each task where it ended (its move key, on the
  // real job table here).
  it('lists a task whose lines repeat once, with its last error, and none the ledger says moved', async () => {
    const { client, tableName } = await freshJobTable('lrmoved');
    try {
      const ledger = new JobLedgerTable(client, { tableName, retentionDays: 1 });
      const ids = { jobId: 'j', runId: 'r' };
      await ledger.startRun({
        ...ids,
        startedAt: 1_000,
        toleratedFailurePercent: 100,
        overlap: OverlapPolicies.FORBID,
      });
      await ledger.settle({
        ...ids,
        key: 'm1',
        delta: { submitted: 3, deadLettered: 3 },
        manifestDone: true,
      });
      await ledger.settle({ ...ids, key: movedKey('m'), delta: { succeeded: 1, deadLettered: -1 } });
      const current = (await ledger.getRun('j', 'r'))!;
      const report = await ledgerReport({
        record: current,
        config: defaultConfig,
        source: 't',
        lines: from([
          { type: 'dead-letter', task: { id: 'a' }, attempts: 1, error: 'HTTP 500' },
          { type: 'dead-letter', task: { id: 'm' }, attempts: 1, error: 'HTTP 500' },
          { type: 'dead-letter', task: { id: 'b' }, attempts: 2, error: 'HTTP 502' },
          { type: 'dead-letter', task: { id: 'a' }, attempts: 1, error: 'HTTP 503' },
        ]),
        moved: movedIn(ledger, 'j', 'r'),
      });
      expect([report.succeeded, report.deadLettered]).toEqual([1, 2]);
      expect(report.deadLetteredTasks).toEqual([
        { id: 'a', attempts: 1, error: 'HTTP 503', task: { id: 'a' } },
        { id: 'b', attempts: 2, error: 'HTTP 502', task: { id: 'b' } },
      ]);
    } finally {
      client.destroy();
    }
  });

  // A redrive that ends a task undeliverable moves it out of `deadLettered` too, into `undeliverable`: it
  // failed still, and is listed with the line the redrive added. Its marker says where it went; one written
  // before markers said is judged by the task's last line.
  it('lists a task moved to undeliverable, with its last error, and not one moved to succeeded', async () => {
    const { client, tableName } = await freshJobTable('lrundeliv');
    try {
      const ledger = new JobLedgerTable(client, { tableName, retentionDays: 1 });
      const ids = { jobId: 'j', runId: 'r' };
      await ledger.startRun({ ...ids, startedAt: 1_000, toleratedFailurePercent: 100, overlap: 'forbid' });
      await ledger.settle({
        ...ids,
        key: 'm1',
        delta: { submitted: 4, deadLettered: 4 },
        manifestDone: true,
      });
      const move = (id: string, as: MovedAs, state?: Record<string, unknown>) =>
        ledger.settle({
          ...ids,
          key: movedKey(id),
          delta: { [as]: 1, deadLettered: -1 },
          ...(state && { state }),
        });
      await move('u', 'undeliverable', movedState('undeliverable'));
      await move('s', 'succeeded', movedState('succeeded'));
      await move('k', 'undeliverable');
      const current = (await ledger.getRun('j', 'r'))!;
      const dead = (id: string, error: string) => ({ type: 'dead-letter', task: { id }, attempts: 1, error });
      const refused = (id: string) => ({
        ...dead(id, 'HTTP 404'),
        type: 'undeliverable',
        sendError: 'too big',
      });
      const report = await ledgerReport({
        record: current,
        config: defaultConfig,
        source: 't',
        // The object's first failures, then the lines a redrive added: `s` failed in a second copy after the
        // first had run it to success, so the ledger has it succeeded.
        lines: from([
          dead('d', 'HTTP 500'),
          dead('u', 'HTTP 500'),
          dead('s', 'HTTP 500'),
          dead('k', 'HTTP 500'),
          refused('u'),
          refused('k'),
          refused('s'),
        ]),
        moved: movedIn(ledger, 'j', 'r'),
      });
      expect([report.succeeded, report.deadLettered, report.undeliverable]).toEqual([1, 1, 2]);
      const late = 'HTTP 404; not delivered to the DLQ: too big';
      expect(report.deadLetteredTasks).toEqual([
        { id: 'd', attempts: 1, error: 'HTTP 500', task: { id: 'd' } },
        { id: 'u', attempts: 1, error: late, task: { id: 'u' } },
        { id: 'k', attempts: 1, error: late, task: { id: 'k' } },
      ]);
    } finally {
      client.destroy();
    }
  });

  // The accounting rule: the listed tasks are those the ledger counts failed (dead-lettered or undeliverable),
  // each once, with its last line's error, whatever the redrives did and however the lines repeat.
  it('lists exactly the tasks still failed, each once with its last error (property)', async () => {
    // `legacy`: a move to undeliverable whose marker does not say so (written before markers said);
    // `legacy-succeeded`: a move to succeeded so.
    const ending = fc.constantFrom(
      'none',
      'again',
      'succeeded',
      'cancelled',
      'undeliverable',
      'legacy',
      'legacy-succeeded',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(ending, { maxLength: 40 }),
        fc.integer({ min: 1, max: 50 }),
        async (ends, max) => {
          const tasks = ends.map((end, i) => ({ id: `t${i}`, end }));
          const first = tasks.map(({ id }) => ({
            type: 'dead-letter',
            task: { id },
            attempts: 1,
            error: `first ${id}`,
          }));
          // What a redrive added, after the object: a new dead letter, or a refused one.
          const later = tasks.flatMap(({ id, end }) => {
            if (end === 'again')
              return [{ type: 'dead-letter', task: { id }, attempts: 1, error: `again ${id}` }];
            if (end === 'undeliverable' || end === 'legacy') {
              return [
                { type: 'undeliverable', task: { id }, attempts: 1, error: `again ${id}`, sendError: 'big' },
              ];
            }
            return [];
          });
          const moves = new Map<string, MovedAs | 'unknown'>();
          for (const { id, end } of tasks) {
            if (end === 'succeeded' || end === 'cancelled' || end === 'undeliverable') moves.set(id, end);
            if (end === 'legacy' || end === 'legacy-succeeded') moves.set(id, 'unknown');
          }
          const moved: MovedCheck = async (id) => moves.get(id);
          const count = (...ends: string[]) => tasks.filter((t) => ends.includes(t.end)).length;
          const report = await ledgerReport({
            // The ledger's counts of these tasks' ends.
            record: record({
              submitted: tasks.length,
              invalid: 0,
              deadLettered: count('none', 'again'),
              undeliverable: count('undeliverable', 'legacy'),
              succeeded: count('succeeded', 'legacy-succeeded'),
              cancelled: count('cancelled'),
            }),
            config: defaultConfig,
            source: 't',
            lines: from([...first, ...later]),
            moved,
            maxListed: max,
          });
          const failed = tasks.filter((t) => !['succeeded', 'cancelled', 'legacy-succeeded'].includes(t.end));
          const expected = failed.slice(0, max).map(({ id, end }) => ({
            id,
            error:
              end === 'none'
                ? `first ${id}`
                : end === 'again'
                  ? `again ${id}`
                  : `again ${id}; not delivered to the DLQ: big`,
          }));
          expect(report.deadLetteredTasks.map(({ id, error }) => ({ id, error }))).toEqual(expected);
          // The failed tasks the counts have and the list does not: each once, however its lines repeat.
          const notListed = failed.length - expected.length;
          expect(report.runtime?.notListed).toBe(notListed > 0 ? notListed : undefined);
          expect(report.deadLetteredTasks.length + notListed).toBe(
            report.deadLettered + (report.undeliverable ?? 0),
          );
        },
      ),
      { numRuns: 200 },
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
