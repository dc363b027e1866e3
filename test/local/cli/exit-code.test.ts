import { describe, expect, it } from 'vitest';
import { BudgetError } from '../../../lib/budget/index.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { ManifestError } from '../../../lib/manifest/errors.js';
import { ExitCodes, exitCodeFor, isUsageError } from '../../../local/cli/exit-code.js';
import { EndpointError } from '../../../local/cli/sqs-endpoint.js';
import { UsageError } from '../../../local/cli/usage-error.js';
import { ReportFileError } from '../../../local/report/write.js';

const report = { invalid: 0, deadLettered: 0 };

describe('exitCodeFor', () => {
  it('is 0 only when every task succeeded', () => {
    expect(exitCodeFor({ report })).toBe(ExitCodes.OK);
    expect(exitCodeFor({ ok: true })).toBe(ExitCodes.OK);
    expect(exitCodeFor({ report: { ...report, invalid: 1 } })).toBe(ExitCodes.TASKS_FAILED);
    expect(exitCodeFor({ report: { ...report, deadLettered: 3 } })).toBe(ExitCodes.TASKS_FAILED);
    expect(exitCodeFor({ report: { ...report, unfinished: 2 } })).toBe(ExitCodes.TASKS_FAILED);
  });

  it('is 130 for an interrupted run, whatever its counts', () => {
    expect(exitCodeFor({ report: { ...report, interrupted: true } })).toBe(ExitCodes.INTERRUPTED);
    expect(exitCodeFor({ report: { ...report, deadLettered: 1, interrupted: true } })).toBe(
      ExitCodes.INTERRUPTED,
    );
  });

  it('is 2 for usage, config, input and endpoint errors', () => {
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    for (const error of [
      new UsageError('bad flag'),
      new InvalidArgumentError('maxSockets', 0, 'an integer >= 1'),
      new RangeError('any bad value'),
      ManifestError.of('limits.inline', '-1 is not a positive integer'),
      new BudgetError([{ path: 'maxSocketsPerHost', value: 100, message: 'is above maxSockets (10)' }]),
      new ReportFileError('r.json', 'no such file'),
      new EndpointError('http://127.0.0.1:1', 'connect ECONNREFUSED'),
      enoent,
      new Error('wrapped', { cause: enoent }),
    ]) {
      expect(isUsageError(error), String(error)).toBe(true);
      expect(exitCodeFor({ error })).toBe(ExitCodes.USAGE);
    }
  });

  it('is 1 for an unexpected failure', () => {
    expect(exitCodeFor({ error: new Error('boom') })).toBe(ExitCodes.TASKS_FAILED);
    expect(exitCodeFor({ error: 'a string' })).toBe(ExitCodes.TASKS_FAILED);
    expect(exitCodeFor({ error: null })).toBe(ExitCodes.TASKS_FAILED);
  });
});
