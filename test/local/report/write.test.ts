import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accountingError,
  ReportFileError,
  readReport,
  reportFormatOf,
  writeReport,
} from '../../../local/report/write.js';
import { fixtureReport } from './fixture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('report files', () => {
  it('writes JSON that reads back the same, creating the directory', async () => {
    const report = fixtureReport();
    const file = join(dir, 'nested', 'r.json');
    await writeReport(file, report);
    expect(await readReport(file)).toEqual(report);
  });

  it('writes HTML by extension', async () => {
    const file = join(dir, 'r.html');
    await writeReport(file, fixtureReport());
    expect(await readFile(file, 'utf8')).toMatch(/^<!doctype html>/);
    expect(reportFormatOf('A.HTM')).toBe('html');
    expect(reportFormatOf('a.txt')).toBeUndefined();
    await expect(writeReport(join(dir, 'r.txt'), fixtureReport())).rejects.toThrow(
      `Report "${join(dir, 'r.txt')}": expected a name ending in .json or .html`,
    );
  });

  it('names the file and the problem when a report cannot be read', async () => {
    const missing = join(dir, 'missing.json');
    await expect(readReport(missing)).rejects.toThrow(new ReportFileError(missing, 'no such file'));
    const notJson = join(dir, 'not.json');
    await writeFile(notJson, '{ nope');
    await expect(readReport(notJson)).rejects.toThrow(/not\.json": not valid JSON/);
    const wrong = join(dir, 'wrong.json');
    await writeFile(wrong, JSON.stringify({ ...fixtureReport(), deadLetteredTasks: [{ id: 'x' }] }));
    await expect(readReport(wrong)).rejects.toThrow(
      /wrong\.json": not a bounded-fanout JSON report: deadLetteredTasks\.0\.attempts: /,
    );
  });

  it('checks that the counts add up', () => {
    expect(accountingError(fixtureReport())).toBeUndefined();
    expect(accountingError(fixtureReport({ unfinished: 5, submitted: 1028 }))).toBeUndefined();
    expect(accountingError(fixtureReport({ deadLettered: 19 }))).toBe(
      'succeeded 1000 + dead-lettered 19 + invalid 3 = 1022, but submitted = 1023',
    );
  });
});
