// Writes the report as JSON or HTML (chosen by the file's extension) and reads a JSON report back for
// `run --retry-from`. A JSON report with more dead-lettered and unfinished tasks than TASKS_IN_JSON keeps the
// first ones and puts every one of them in an NDJSON file beside it (`tasksFile`), read back with it.
import { createReadStream } from 'node:fs';
import { access, constants, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { BoundedFanoutError, ErrorCodes } from '../../lib/errors.js';
import { renderHtmlReport } from './html.js';
import type { AnyRunReport, DeadLetteredTask, RunReport, UnfinishedTask } from './types.js';

/** Dead-lettered plus unfinished tasks a JSON report holds itself; past it they all go to the tasks file. */
export const TASKS_IN_JSON = 1_000;

export const ReportFormats = { JSON: 'json', HTML: 'html' } as const;
export type ReportFormat = (typeof ReportFormats)[keyof typeof ReportFormats];

export class ReportFileError extends BoundedFanoutError {
  readonly file: string;
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`Report ${JSON.stringify(file)}: ${reason}`, ErrorCodes.REPORT_FILE, options);
    this.name = 'ReportFileError';
    this.file = file;
  }
}

/** `json` or `html` from the file name, or undefined for anything else. */
export function reportFormatOf(file: string): ReportFormat | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return ReportFormats.JSON;
  if (ext === '.html' || ext === '.htm') return ReportFormats.HTML;
  return undefined;
}

export function renderReport(report: AnyRunReport, format: ReportFormat): string {
  return format === ReportFormats.HTML ? renderHtmlReport(report) : `${JSON.stringify(report, null, 2)}\n`;
}

export async function writeReport(file: string, report: AnyRunReport): Promise<void> {
  const format = reportFormatOf(file);
  if (!format) throw new ReportFileError(file, 'expected a name ending in .json or .html');
  try {
    await mkdir(dirname(file), { recursive: true });
    const listed = report.deadLetteredTasks.length + (report.unfinishedTasks?.length ?? 0);
    if (format === ReportFormats.JSON && listed > TASKS_IN_JSON) {
      const tasksFile = tasksFileOf(file);
      await writeTasksFile(tasksFile, report);
      await writeFile(file, renderReport(withTasksFile(report, basename(tasksFile)), format));
    } else await writeFile(file, renderReport(report, format));
  } catch (error) {
    throw new ReportFileError(file, `not written: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes every report, each on its own: one that fails does not keep the others from being written. */
export async function writeReports(
  files: readonly string[],
  report: AnyRunReport,
): Promise<{ readonly file: string; readonly error: Error }[]> {
  const failed: { file: string; error: Error }[] = [];
  for (const file of files) {
    try {
      await writeReport(file, report);
    } catch (error) {
      failed.push({ file, error: error as Error });
    }
  }
  return failed;
}

/**
 * Checks, before anything runs, that a report can be written there: an existing file must be a writable file;
 * otherwise the nearest existing folder above it must be a writable folder (the folders below are made then).
 */
export async function checkReportPath(file: string): Promise<void> {
  if (!reportFormatOf(file)) throw new ReportFileError(file, 'expected a name ending in .json or .html');
  const fail = (reason: string, cause?: unknown) =>
    new ReportFileError(file, `cannot be written: ${reason}`, cause === undefined ? undefined : { cause });
  let at = file;
  for (;;) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(at) === at)
        throw fail((error as Error).message, error);
      at = dirname(at);
      continue;
    }
    if (at === file && !info.isFile()) throw fail('it is not a regular file');
    if (at !== file && !info.isDirectory()) throw fail(`${JSON.stringify(at)} is not a folder`);
    try {
      await access(at, at === file ? constants.W_OK : constants.W_OK | constants.X_OK);
    } catch (error) {
      throw fail((error as Error).message, error);
    }
    return;
  }
}

/** `out/report.json` -> `out/report.tasks.ndjson`. */
export function tasksFileOf(file: string): string {
  return join(dirname(file), `${basename(file, extname(file))}.tasks.ndjson`);
}

function withTasksFile<R extends AnyRunReport>(report: R, tasksFile: string): R {
  const dead = report.deadLetteredTasks.slice(0, TASKS_IN_JSON);
  const unfinished = (report.unfinishedTasks ?? []).slice(0, TASKS_IN_JSON - dead.length);
  return {
    ...report,
    deadLetteredTasks: dead,
    ...(report.unfinishedTasks ? { unfinishedTasks: unfinished } : {}),
    tasksFile,
  };
}

async function writeTasksFile(file: string, report: AnyRunReport): Promise<void> {
  const out = await open(file, 'w');
  try {
    let chunk: string[] = [];
    const flush = async () => {
      if (chunk.length > 0) await out.write(`${chunk.join('\n')}\n`);
      chunk = [];
    };
    const lines = [
      ...report.deadLetteredTasks.map((t) => ({ kind: 'dead-lettered', ...t })),
      ...(report.unfinishedTasks ?? []).map((t) => ({ kind: 'unfinished', ...t })),
    ];
    for (const line of lines) {
      chunk.push(JSON.stringify(line));
      if (chunk.length >= 1_000) await flush();
    }
    await flush();
  } finally {
    await out.close();
  }
}

/** Every task of the tasks file, as the two lists. */
async function readTasksFile(
  report: string,
  tasksFile: string,
): Promise<Pick<RunReport, 'deadLetteredTasks' | 'unfinishedTasks'>> {
  const file = join(dirname(report), basename(tasksFile));
  const dead: DeadLetteredTask[] = [];
  const unfinished: UnfinishedTask[] = [];
  try {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      const parsed = taskLineSchema.safeParse(JSON.parse(line));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`line ${n}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
      }
      const { kind, ...task } = parsed.data;
      if (kind === 'dead-lettered') dead.push(task as DeadLetteredTask);
      else unfinished.push(task as UnfinishedTask);
    }
  } catch (error) {
    throw new ReportFileError(report, `its tasks file ${JSON.stringify(file)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { deadLetteredTasks: dead, unfinishedTasks: unfinished };
}

const count = z.number().int().min(0);
const layers = { inline: count, workers: count, sockets: count };

/** The parts of a report that `--retry-from` relies on; the rest passes through unchecked. */
const reportSchema = z.looseObject({
  jobId: z.string().min(1),
  submitted: count,
  invalid: count,
  succeeded: count,
  deadLettered: count,
  durationMs: z.number().min(0),
  peaks: z.object(layers),
  limits: z.looseObject(layers),
  invalidTasks: z.array(z.object({ id: z.string().optional(), line: count.optional(), error: z.string() })),
  deadLetteredTasks: z.array(
    z.object({
      id: z.string(),
      attempts: count,
      error: z.string(),
      line: count.optional(),
      task: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  unfinished: count.optional(),
  unfinishedTasks: z
    .array(
      z.object({
        id: z.string(),
        line: count.optional(),
        error: z.string(),
        task: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .optional(),
  tasksFile: z.string().min(1).optional(),
  manifestFile: z.string().min(1).optional(),
  manifestSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  timeline: z.array(z.unknown()),
});

const taskLineSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('dead-lettered'),
    id: z.string(),
    attempts: count,
    error: z.string(),
    line: count.optional(),
    task: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({
    kind: z.literal('unfinished'),
    id: z.string(),
    line: count.optional(),
    error: z.string(),
    task: z.record(z.string(), z.unknown()).optional(),
  }),
]);

export async function readReport(file: string): Promise<RunReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ReportFileError(file, code === 'ENOENT' ? 'no such file' : (error as Error).message, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ReportFileError(file, `not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const parsed = reportSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ReportFileError(
      file,
      `not a bounded-fanout JSON report: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  const report = parsed.data as unknown as RunReport;
  return report.tasksFile ? { ...report, ...(await readTasksFile(file, report.tasksFile)) } : report;
}

/** Ended tasks that do not add up to `submitted`, or undefined when they do. */
export function accountingError(report: RunReport): string | undefined {
  // Every way a task ends, the cancelled and undeliverable too (a run cancelled from a second process has them).
  const parts: [string, number][] = [
    ['succeeded', report.succeeded],
    ['dead-lettered', report.deadLettered],
    ['undeliverable', report.undeliverable ?? 0],
    ['invalid', report.invalid],
    ['cancelled', report.cancelled ?? 0],
    ['unfinished', report.unfinished ?? 0],
  ];
  const ended = parts.reduce((sum, [, n]) => sum + n, 0);
  if (ended === report.submitted) return undefined;
  const shown = parts.filter(
    ([name, n]) => n > 0 || ['succeeded', 'dead-lettered', 'invalid'].includes(name),
  );
  return `${shown.map(([name, n]) => `${name} ${n}`).join(' + ')} = ${ended}, but submitted = ${report.submitted}`;
}
