import { describe, expect, it } from 'vitest';
import { ExitCodes, exitCodeFor } from '../../../local/cli/exit-code.js';
import { formatSummary } from '../../../local/cli/summary.js';
import { fixtureReport } from '../report/fixture.js';

// A job the orchestrator ended `failed` with a reason (its manifest broke after some tasks ran) says so
// in the summary's first line and never exits 0, even when every task it read succeeded.

describe('a failed job in the summary and the exit code', () => {
  const runtime = { status: 'failed', reason: 'manifest-error', error: 'tasks: appears twice' };
  const report = fixtureReport({ submitted: 4, succeeded: 4, deadLettered: 0, invalid: 0, runtime });

  it('heads the summary with FAILED, the reason and the fault', () => {
    expect(formatSummary(report).split('\n')[0]).toBe(
      'Job fixture FAILED after 10.0 s (manifest-error): tasks: appears twice',
    );
  });

  it('exits 1 though every task read succeeded', () => {
    expect(exitCodeFor({ report })).toBe(ExitCodes.TASKS_FAILED);
    expect(exitCodeFor({ report: { ...report, runtime: { status: 'succeeded' } } })).toBe(ExitCodes.OK);
  });
});
