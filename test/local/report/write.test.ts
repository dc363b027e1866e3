import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accountingError,
  checkReportPath,
  ReportFileError,
  readReport,
  reportFormatOf,
  TASKS_IN_JSON,
  writeReport,
  writeReports,
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

  it('puts every task in a tasks file beside a JSON report past TASKS_IN_JSON, and reads them back', async () => {
    const dead = Array.from({ length: 1200 }, (_, i) => ({
      id: `d${i}`,
      attempts: 2,
      error: 'HTTP 500',
      line: i + 2,
    }));
    const unfinished = Array.from({ length: 300 }, (_, i) => ({
      id: `u${i}`,
      error: 'not read',
      task: { id: `u${i}` },
    }));
    const report = fixtureReport({
      deadLettered: 1200,
      deadLetteredTasks: dead,
      unfinished: 300,
      unfinishedTasks: unfinished,
    });
    const file = join(dir, 'big.json');
    await writeReport(file, report);
    const written = JSON.parse(await readFile(file, 'utf8'));
    expect(written.tasksFile).toBe('big.tasks.ndjson');
    expect(written.deadLetteredTasks.length + written.unfinishedTasks.length).toBe(TASKS_IN_JSON);
    const lines = (await readFile(join(dir, 'big.tasks.ndjson'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1500);
    expect(JSON.parse(lines[1200])).toEqual({ kind: 'unfinished', ...unfinished[0] });
    const back = await readReport(file);
    expect(back.deadLetteredTasks).toEqual(dead);
    expect(back.unfinishedTasks).toEqual(unfinished);
  });

  it('writes each report on its own: one that fails does not stop the others', async () => {
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file');
    const bad = join(blocker, 'r.json');
    const good = join(dir, 'good.html');
    const failed = await writeReports([bad, good], fixtureReport());
    expect(failed.map((f) => f.file)).toEqual([bad]);
    expect(failed[0].error.message).toMatch(
      new RegExp(`^Report "${bad}": not written: EEXIST: file already exists`),
    );
    expect(existsSync(good)).toBe(true);
  });

  it('checks a report path before the run, making nothing', async () => {
    const blocker = join(dir, 'blocker2');
    await writeFile(blocker, 'a file');
    await expect(checkReportPath(join(blocker, 'x', 'r.json'))).rejects.toThrow(
      `Report "${join(blocker, 'x', 'r.json')}": cannot be written: "${blocker}" is not a folder`,
    );
    const folder = join(dir, 'folder.json');
    await mkdir(folder);
    await expect(checkReportPath(folder)).rejects.toThrow(
      `Report "${folder}": cannot be written: it is not a regular file`,
    );
    const fresh = join(dir, 'new', 'deeper', 'r.json');
    await checkReportPath(fresh);
    expect(existsSync(join(dir, 'new'))).toBe(false);
    await expect(checkReportPath(join(dir, 'r.txt'))).rejects.toThrow(
      'expected a name ending in .json or .html',
    );
  });
});
