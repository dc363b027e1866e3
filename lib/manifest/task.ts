import type { HeaderValue } from '../http/secret-ref.js';
import { MAX_TASK_BYTES } from '../wire/sqs-limits.js';
import { wireJson } from '../wire/wire-json.js';
import type { ManifestIssue } from './errors.js';
import { preview, toManifestIssues } from './issues.js';
import { type JobTask, RawTaskSchema, type TaskDefaults, type TaskMode, TaskModes } from './schema.js';
import { SeenIds } from './seen-ids.js';

/** The mode of a task that names none, in `defaults` or itself: the scalable path. */
export const DEFAULT_TASK_MODE: TaskMode = TaskModes.QUEUE;

export type TaskCheck =
  | { readonly ok: true; readonly task: JobTask }
  | { readonly ok: false; readonly id?: string; readonly issues: readonly ManifestIssue[] };

/**
 * Validates one raw task and fills it from `defaults` (headers merge by name, the task winning; every
 * other field is taken whole from the task when it has one). Paths in issues are relative to the task
 * (`headers.x-id`, `body`); a value that is not an object at all is `task`.
 */
export function checkTask(raw: unknown, defaults: TaskDefaults | undefined): TaskCheck {
  const parsed = RawTaskSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, id: idOf(raw), issues: toManifestIssues(parsed.error.issues, raw, 'task') };
  }
  const own = parsed.data;
  const merged: JobTask = dropUndefined({
    id: own.id,
    url: own.url,
    method: own.method ?? defaults?.method,
    headers: mergeHeaders(defaults?.headers, own.headers),
    body: own.body ?? defaults?.body,
    timeoutMs: own.timeoutMs ?? defaults?.timeoutMs,
    mode: own.mode ?? defaults?.mode ?? DEFAULT_TASK_MODE,
    retryNonIdempotent: own.retryNonIdempotent ?? defaults?.retryNonIdempotent,
    expectStatus: own.expectStatus ?? defaults?.expectStatus,
  });
  // Counted as it travels (wire JSON: characters SQS refuses are escaped), so an accepted task always fits.
  const size = Buffer.byteLength(wireJson(merged));
  if (size > MAX_TASK_BYTES) {
    const bodyBytes = merged.body === undefined ? 0 : Buffer.byteLength(wireJson(merged.body)) - 2;
    const path = size - bodyBytes <= MAX_TASK_BYTES ? 'body' : 'task';
    const what = path === 'body' ? `${bodyBytes} bytes` : `${size} bytes`;
    const message = `${path}: ${what} makes the task ${size} bytes, over the ${MAX_TASK_BYTES}-byte limit of one task (it must fit one SQS message)`;
    return { ok: false, id: own.id, issues: [{ path, message }] };
  }
  return { ok: true, task: merged };
}

function mergeHeaders(
  base: Readonly<Record<string, HeaderValue>> | undefined,
  own: Readonly<Record<string, HeaderValue>> | undefined,
): Record<string, HeaderValue> | undefined {
  if (!base) return own;
  if (!own) return base;
  // Header names are case-insensitive: a task's `Accept` replaces the defaults' `accept`.
  const out: Record<string, HeaderValue> = {};
  const ownNames = new Set(Object.keys(own).map((name) => name.toLowerCase()));
  for (const [name, value] of Object.entries(base)) if (!ownNames.has(name.toLowerCase())) out[name] = value;
  return Object.assign(out, own);
}

function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

/** The id of a task that failed validation, when it has a usable one, for the report. */
function idOf(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const id = (raw as { id?: unknown }).id;
  if (typeof id === 'string' && id.length > 0 && id.length <= 256) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  return undefined;
}

/** Tracks task ids seen so far: a later task with a seen id is invalid and names where the first was. */
export class DuplicateIds {
  // The ids in typed arrays, with the line or index each was first at: a million ids must stay cheap.
  readonly #seen = new SeenIds();
  readonly #unit: 'line' | 'tasks';

  constructor(unit: 'line' | 'tasks') {
    this.#unit = unit;
  }

  /** Returns the issue when `id` was seen before, else records the position it was seen at. */
  check(id: string, position: number): ManifestIssue | undefined {
    const first = this.#seen.firstOrAdd(id, position);
    if (first !== undefined) {
      const where = this.#unit === 'line' ? `line ${first}` : `tasks[${first}]`;
      return { path: 'id', message: `id: ${preview(id)} is a duplicate of the task at ${where}` };
    }
    return undefined;
  }

  get size(): number {
    return this.#seen.size;
  }
}
