// The items a manifest yields, one per task: valid (the task, checked against the header's defaults, its id not
// seen before) or invalid (every issue, with the line and the id when usable), and the JSON reading of one task
// whose errors never quote the text (it may hold a secret header's value).
import type { ManifestIssue } from './errors.js';
import type { JobHeader, JobTask } from './schema.js';
import { checkTask, type DuplicateIds } from './task.js';

export interface ValidTaskItem {
  /** 0-based position among the manifest's tasks, valid or not: the cursor of continuations. */
  readonly index: number;
  /** 1-based line in the manifest file (JSON and NDJSON). */
  readonly line?: number;
  readonly ok: true;
  readonly task: JobTask;
}

export interface InvalidTaskItem {
  readonly index: number;
  readonly line?: number;
  readonly ok: false;
  /** The task's id, when it had a usable one. */
  readonly id?: string;
  /** Every issue's message, joined: `timeoutMs: -5 is not a positive integer`. */
  readonly error: string;
  readonly issues: readonly ManifestIssue[];
}

export type ManifestItem = ValidTaskItem | InvalidTaskItem;

export function toItem(
  raw: unknown,
  index: number,
  line: number | undefined,
  position: number,
  header: JobHeader,
  dups: DuplicateIds,
): ManifestItem {
  const checked = checkTask(raw, header.defaults);
  if (!checked.ok) return invalid(index, line, checked.issues, checked.id);
  const duplicate = dups.check(checked.task.id, position);
  if (duplicate) return invalid(index, line, [duplicate], checked.task.id);
  return line === undefined
    ? { index, ok: true, task: checked.task }
    : { index, line, ok: true, task: checked.task };
}

export function invalid(
  index: number,
  line: number | undefined,
  issues: readonly ManifestIssue[],
  id?: string,
): InvalidTaskItem {
  const item = { index, ok: false as const, error: issues.map((i) => i.message).join('; '), issues };
  return { ...item, ...(line === undefined ? {} : { line }), ...(id === undefined ? {} : { id }) };
}

export function notJson(index: number, line: number, reason: string): InvalidTaskItem {
  return invalid(index, line, [{ path: 'task', message: `task: is not valid JSON (${reason})` }]);
}

export function notUtf8(index: number, line: number, where: string): InvalidTaskItem {
  return invalid(index, line, [{ path: 'task', message: `task: is not valid UTF-8 (${where})` }]);
}

export function tooLong(index: number, line: number, bytes: number, max: number): InvalidTaskItem {
  return invalid(index, line, [
    { path: 'task', message: `task: is ${bytes} bytes, over the ${max}-byte limit of one task` },
  ]);
}

export function tryJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: withoutExcerpt((error as Error).message) };
  }
}

/**
 * V8's JSON errors quote the text around the fault (`Unexpected token 'B', ..."ization": Bearer sek"... is not
 * valid JSON`): that text may be a secret header's value, so the excerpt is cut and the reason kept.
 */
export function withoutExcerpt(message: string): string {
  return message.replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, '');
}
