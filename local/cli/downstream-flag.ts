// `--downstream FILE.json` of run, serve and plan (issue 17): one run's host limits without editing cdk.json. The
// file holds what cdk.json's `downstream` holds (host -> { maxConcurrency, maxRequestsPerSecond, adaptive,
// shared }) and replaces it for that run. It is read and checked while the flags are parsed, with the budget's
// own schema, so a bad file is bad usage (exit 2) naming the file, the host and the field before anything starts.
import { readFileSync } from 'node:fs';
import { fieldProblems, formatProblem } from '../../lib/budget/budget-schema.js';
import { type DownstreamLimits, defaultConfig } from '../../lib/config.js';
import { describe } from '../../lib/errors.js';
import { stringValue } from './flag-values.js';
import { UsageError } from './usage-error.js';

const FLAG = '--downstream';

export type DownstreamMap = Readonly<Record<string, DownstreamLimits>>;

/** The override a `--downstream` value gives: `{ downstream }` from the file, or nothing without the flag. */
export function downstreamOverride(raw: unknown): { downstream?: DownstreamMap } {
  const file = stringValue(FLAG, raw);
  return file === undefined ? {} : { downstream: readDownstreamFile(file) };
}

/** Reads and checks one file of host limits; every problem of it in one message. */
export function readDownstreamFile(file: string): DownstreamMap {
  const fail = (message: string, cause?: unknown) =>
    new UsageError(`${FLAG} ${file}: ${message}`, { flag: FLAG, value: file }, { cause });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(error)})`, error);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail(`not valid JSON (${(error as Error).message})`, error);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail(
      `expected an object of host names to limits, as cdk.json's "downstream" (e.g. {"api.example.com":{"maxConcurrency":8}}), got ${describe(value)}`,
    );
  }
  const downstream = value as DownstreamMap;
  const problems = fieldProblems({ ...defaultConfig, downstream }).filter(({ path }) =>
    path.startsWith('downstream'),
  );
  if (problems.length > 0) throw fail(problems.map(formatProblem).join('; '));
  return downstream;
}
