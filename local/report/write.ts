// Writes the report as JSON or HTML (chosen by the file's extension) and reads a JSON report back for
// `run --retry-from`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { z } from 'zod';
import { BoundedFanoutError } from '../../lib/errors.js';
import { renderHtmlReport } from './html.js';
import type { RunReport } from './types.js';

export const ReportFormats = { JSON: 'json', HTML: 'html' } as const;
export type ReportFormat = (typeof ReportFormats)[keyof typeof ReportFormats];

export class ReportFileError extends BoundedFanoutError {
  readonly file: string;
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`Report ${JSON.stringify(file)}: ${reason}`, 'BF_REPORT_FILE', options);
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

export function renderReport(report: RunReport, format: ReportFormat): string {
  return format === ReportFormats.HTML ? renderHtmlReport(report) : `${JSON.stringify(report, null, 2)}\n`;
}

export async function writeReport(file: string, report: RunReport): Promise<void> {
  const format = reportFormatOf(file);
  if (!format) throw new ReportFileError(file, 'expected a name ending in .json or .html');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, renderReport(report, format));
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
      task: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  timeline: z.array(z.unknown()),
});

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
  return parsed.data as unknown as RunReport;
}

/** Ended tasks that do not add up to `submitted`, or undefined when they do. */
export function accountingError(report: RunReport): string | undefined {
  const ended = report.succeeded + report.deadLettered + report.invalid + (report.unfinished ?? 0);
  if (ended === report.submitted) return undefined;
  return `succeeded ${report.succeeded} + dead-lettered ${report.deadLettered} + invalid ${report.invalid}${report.unfinished ? ` + unfinished ${report.unfinished}` : ''} = ${ended}, but submitted = ${report.submitted}`;
}
