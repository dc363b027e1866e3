import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../../local/cli/summary.js';
import { fixtureReport } from '../report/fixture.js';

describe('formatSummary', () => {
  it('prints counts that add up, peaks against limits, and the first failures', () => {
    const text = formatSummary(
      fixtureReport({ target: { peakSockets: 16, peakInFlight: 16, requests: 1100 } }),
      {
        reportFiles: ['.tmp/report.html'],
      },
    );
    expect(text).toContain('Job fixture finished in 10.0 s (102 tasks/s).');
    expect(text).toMatch(/submitted\s+1,023\n\s+succeeded\s+1,000\n\s+dead-lettered\s+20\n\s+invalid\s+3\n/);
    expect(text).toContain('every task accounted for');
    expect(text).toMatch(/inline tasks \(orchestrator\)\s+8\s+8\n/);
    expect(text).toMatch(/worker invocations \(queue\)\s+4\s+4\n/);
    expect(text).toMatch(/sockets, all containers\s+16\s+16\n/);
    // The target's own count appears only with the budget's figure for one host to compare it with.
    expect(text).not.toContain('connections at the target');
    const withBudget = formatSummary(
      fixtureReport({
        target: { peakSockets: 15, peakInFlight: 12, requests: 1100 },
        limits: { ...fixtureReport().limits, socketsToOneHost: 20 },
      }),
    );
    expect(withBudget).toMatch(/connections at the target\s+15\s+20\n/);
    expect(text).toContain('Dead-lettered (20):');
    expect(text).toContain('  task-0  after 3 attempts: HTTP 404 & <gone>');
    expect(text).toContain('  ... and 15 more');
    expect(text).toContain('  line 7 bad-1: url: is required');
    expect(text).toContain('Report: .tmp/report.html');
  });

  it('says of a resume that read the first segment again how many inline tasks it ran again', () => {
    const resumed = {
      startedAt: '2026-01-01T00:00:00.000Z',
      idempotency: 'off',
      messages: 3,
      inProgressCleared: 1,
    };
    const plain = formatSummary({ ...fixtureReport(), resumed: { ...resumed, tasks: 7 } });
    expect(plain).toContain(
      '7 task(s) in flight or queued at the kill were put back and could have run twice.',
    );
    const reread = formatSummary({
      ...fixtureReport(),
      resumed: { ...resumed, tasks: 9, reread: { segments: 1, inline: 2 } },
    });
    expect(reread).toContain(
      '9 task(s) in flight or queued at the kill were put back and could have run twice, the 2 inline task(s) of the 1 orchestrator segment(s) the kill cut short, read again, among them.',
    );
    const invoked = formatSummary({
      ...fixtureReport(),
      resumed: { ...resumed, tasks: 19, reread: { segments: 1, inline: 2, invoked: 10 } },
    });
    expect(invoked).toContain(
      'could have run twice, the 2 inline task(s) and 10 invoke task(s) of the 1 orchestrator segment(s) the kill cut short, read again, among them.',
    );
  });

  it('shows a hostile id or error as text: no control character reaches the terminal, no line is forged', () => {
    const forged = '\u001b[31mRED\u001b[0m\n  every task accounted for FAKE';
    const base = fixtureReport();
    const text = formatSummary({
      ...base,
      invalidTasks: [{ line: 2, id: forged, error: `id: ${forged} \u0007` }],
      deadLetteredTasks: [{ ...base.deadLetteredTasks[0], id: `x\u009b2J`, error: 'gone\u001b[2K' }],
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not appear
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('  line 2 \\u001b[31mRED\\u001b[0m\\n  every task accounted for FAKE: id:');
    expect(text).toContain('  x\\u009b2J  after');
    expect(text.split('\n').filter((l) => l.includes('every task accounted for FAKE'))).toHaveLength(1);
  });

  it('a run cancelled from a second process: its cancelled tasks counted and the verdict said', () => {
    const text = formatSummary(
      fixtureReport({ status: 'cancelled', reason: 'cancelled', cancelled: 674, succeeded: 326 }),
    );
    expect(text).toContain('Job fixture CANCELLED after 10.0 s (cancelled)');
    expect(text).toMatch(/cancelled\s+674\n/);
    expect(text).toContain('every task accounted for');
    expect(text).not.toContain('ACCOUNTING MISMATCH');
  });

  it('says when a run was interrupted and when counts do not add up', () => {
    const text = formatSummary(
      fixtureReport({ interrupted: true, unfinished: 4, submitted: 1027, succeeded: 999 }),
    );
    expect(text).toContain('interrupted after 10.0 s: unstarted work was left in the queue');
    expect(text).toMatch(/unfinished\s+4/);
    expect(text).toContain(
      'ACCOUNTING MISMATCH: succeeded 999 + dead-lettered 20 + invalid 3 + unfinished 4 = 1026',
    );
  });

  it('lists the first unfinished tasks with their lines, says a run was cut off, and how to retry', () => {
    const unfinishedTasks = Array.from({ length: 7 }, (_, i) => ({
      id: `u${i}`,
      line: i + 2,
      error: 'not finished: its message was in the work queue',
      task: { id: `u${i}` },
    }));
    const text = formatSummary(
      fixtureReport({ interrupted: true, cutOff: true, unfinished: 7, unfinishedTasks, submitted: 1030 }),
      { reportFiles: ['out/r.html', 'out/r.json'] },
    );
    expect(text).toContain(
      'Cut off: tasks running then count as unfinished, even those whose requests had completed.',
    );
    expect(text).toContain('every task accounted for');
    expect(text).toContain('Unfinished (7):\n  line 2 u0: not finished: its message was in the work queue\n');
    expect(text).toContain('  ... and 2 more');
    expect(text).toContain(
      'Run the dead-lettered and unfinished tasks again: bounded-fanout run --retry-from out/r.json',
    );
  });

  it("says when limits changed the worker's settings during the run, and keeps the deployed limits in the table", () => {
    const limits = { ...fixtureReport().limits, workersReserved: 14 };
    const text = formatSummary(
      fixtureReport({ limits: { ...limits, changedLive: { workers: 2, workersReserved: 6 } } }),
    );
    expect(text).toMatch(/worker invocations \(queue\)\s+4\s+4\n/);
    expect(text).toContain(
      "  changed during the run (limits): at the end the event source's maximum was 2 and the worker's reserved concurrency 6; the limits above are the deployed ones, the peaks the whole run's\n",
    );
    expect(formatSummary(fixtureReport({ limits }))).not.toContain('changed during the run');
  });
});
