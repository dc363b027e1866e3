import { ManifestError } from './errors.js';
import { type DeclaredFormat, type ManifestFormat, ManifestFormats } from './format.js';
import { renderPath, toManifestIssues } from './issues.js';
import { type ScanEvent, scanJson } from './scan-json.js';
import { HEADER_KEYS, type JobHeader, JobHeaderSchema } from './schema.js';
import { sniffFormat } from './sniff-format.js';
import { type Chunk, splitLines } from './split-lines.js';
import { DuplicateIds } from './task.js';
import { type ManifestItem, notJson, notUtf8, toItem, tooLong, tryJson } from './task-items.js';

/** Longest line (NDJSON) or element (JSON) read as one task; a longer one is reported and skipped. */
export const MAX_TASK_LINE_BYTES = 1024 * 1024;

export { type ManifestFormat, ManifestFormats } from './format.js';
export { type InvalidTaskItem, type ManifestItem, type ValidTaskItem, withoutExcerpt } from './task-items.js';

export interface Manifest {
  readonly header: JobHeader;
  readonly format: ManifestFormat;
  /** The tasks in order, validated one by one; iterate once. */
  readonly items: AsyncIterable<ManifestItem>;
}

export interface StreamOptions {
  /** `auto` (the default) applies lib/manifest/format.ts's rule to the first line and `declared`. */
  readonly format?: ManifestFormat | 'auto';
  /** What the file's name or content type says (`declaredFormat()`): used only where the bytes cannot tell. */
  readonly declared?: DeclaredFormat;
  /** Header fields given outside the file (the event's `jobId`, `runId`...): they win over the file's. */
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** The job id when neither the file nor the overrides give one. */
  readonly defaultJobId?: string;
  readonly maxTaskLineBytes?: number;
}

/** Validates a job header; throws a ManifestError naming each bad field and its value. */
export function parseJobHeader(raw: unknown): JobHeader {
  const parsed = JobHeaderSchema.safeParse(raw);
  if (!parsed.success) throw new ManifestError(toManifestIssues(parsed.error.issues, raw, 'manifest'));
  return parsed.data;
}

/** An inline manifest `{ jobId, defaults?, limits?, toleratedFailurePercent?, tasks }`, as events carry it. */
export function parseInlineManifest(event: unknown): Manifest {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new ManifestError(
      toManifestIssues(JobHeaderSchema.safeParse(event).error?.issues ?? [], event, 'manifest'),
    );
  }
  const { tasks, ...rest } = event as Record<string, unknown>;
  const header = parseJobHeader(rest);
  if (!Array.isArray(tasks)) {
    throw ManifestError.of('tasks', tasks === undefined ? 'is required' : 'is not an array');
  }
  const items = (async function* () {
    const dups = new DuplicateIds('tasks');
    for (let index = 0; index < tasks.length; index++) {
      yield toItem(tasks[index], index, undefined, index, header, dups);
    }
  })();
  return { header, format: ManifestFormats.INLINE, items };
}

/** A JSON or NDJSON manifest read as a stream: resolves once the header is read; tasks follow lazily. */
export async function parseManifestStream(
  chunks: AsyncIterable<Chunk> | Iterable<Chunk>,
  options: StreamOptions = {},
): Promise<Manifest> {
  const { format = 'auto', overrides = {}, defaultJobId, maxTaskLineBytes = MAX_TASK_LINE_BYTES } = options;
  let source = chunks;
  let resolved = format;
  if (resolved === 'auto') [resolved, source] = await sniffFormat(chunks, maxTaskLineBytes, options.declared);
  const withFallback = (file: Record<string, unknown>) =>
    parseJobHeader({ ...(defaultJobId === undefined ? {} : { jobId: defaultJobId }), ...file, ...overrides });
  if (resolved === ManifestFormats.NDJSON) return ndjsonManifest(source, withFallback, maxTaskLineBytes);
  return jsonManifest(source, withFallback, maxTaskLineBytes);
}

async function ndjsonManifest(
  chunks: AsyncIterable<Chunk> | Iterable<Chunk>,
  headerOf: (file: Record<string, unknown>) => JobHeader,
  maxBytes: number,
): Promise<Manifest> {
  const lines = splitLines(chunks, maxBytes)[Symbol.asyncIterator]();
  let first = await lines.next();
  while (!first.done && first.value.text !== undefined && first.value.text.trim() === '')
    first = await lines.next();
  let fileHeader: Record<string, unknown> = {};
  let pending = first.done ? undefined : first.value;
  if (pending?.text !== undefined) {
    const value = tryJson(pending.text);
    if (value.ok && isHeaderLike(value.value)) {
      // A header read with U+FFFD in it would fill every task with values the file never held.
      if (pending.badUtf8) {
        throw ManifestError.of(
          'manifest',
          `line ${pending.line} (the header) is not valid UTF-8 (${pending.badUtf8})`,
        );
      }
      fileHeader = value.value as Record<string, unknown>;
      pending = undefined;
    }
  }
  const header = headerOf(fileHeader);
  const items = (async function* () {
    const dups = new DuplicateIds('line');
    let index = 0;
    let next = pending ? { done: false as const, value: pending } : await lines.next();
    while (!next.done) {
      const { line, text, tooLongBytes, badUtf8 } = next.value;
      if (tooLongBytes !== undefined) yield tooLong(index++, line, tooLongBytes, maxBytes);
      else if (badUtf8 !== undefined) yield notUtf8(index++, line, badUtf8);
      else if (text !== undefined && text.trim() !== '') {
        const value = tryJson(text);
        yield value.ok
          ? toItem(value.value, index++, line, line, header, dups)
          : notJson(index++, line, value.error);
      }
      next = await lines.next();
    }
  })();
  return { header, format: ManifestFormats.NDJSON, items };
}

async function jsonManifest(
  chunks: AsyncIterable<Chunk> | Iterable<Chunk>,
  headerOf: (file: Record<string, unknown>) => JobHeader,
  maxBytes: number,
): Promise<Manifest> {
  const events = scanJson(chunks, maxBytes)[Symbol.asyncIterator]();
  const { fileHeader, sawTasks } = await readJsonHeader(events, maxBytes);
  let header: JobHeader;
  try {
    header = headerOf(fileHeader);
  } catch (error) {
    if (!(error instanceof ManifestError) || !sawTasks) throw error;
    // Members after "tasks" are not read yet: say where a missing one belongs.
    const hint = 'is required before "tasks" (a JSON manifest is read as a stream)';
    throw new ManifestError(
      error.issues.map((i) => ({ path: i.path, message: i.message.replace(/is required$/, hint) })),
    );
  }
  if (!sawTasks) throw ManifestError.of('tasks', 'is required');
  return { header, format: ManifestFormats.JSON, items: jsonItems(events, header, maxBytes) };
}

type JsonEvents = AsyncIterator<ScanEvent, void>;

/** The members before "tasks", each parsed; stops at the "[" of `tasks` (or at the end). */
async function readJsonHeader(events: JsonEvents, maxBytes: number) {
  const fileHeader: Record<string, unknown> = {};
  for (let next = await events.next(); !next.done; next = await events.next()) {
    const event = next.value;
    if (event.type === 'tasks-start') return { fileHeader, sawTasks: true };
    if (event.type !== 'member') continue;
    if (event.key === 'tasks') throw ManifestError.of('tasks', 'is not an array');
    if (event.tooLongBytes !== undefined) {
      throw ManifestError.of(
        memberPath(event.key),
        `is ${event.tooLongBytes} bytes, over the ${maxBytes}-byte limit`,
      );
    }
    if (event.badUtf8 !== undefined) {
      throw ManifestError.of(memberPath(event.key), `is not valid UTF-8 (${event.badUtf8})`);
    }
    const value = tryJson(event.text ?? '');
    if (!value.ok) throw ManifestError.of(memberPath(event.key), `is not valid JSON (${value.error})`);
    fileHeader[event.key] = value.value;
  }
  return { fileHeader, sawTasks: false };
}

/** The elements of `tasks`, each validated; a header member after them is refused. */
async function* jsonItems(events: JsonEvents, header: JobHeader, maxBytes: number) {
  const dups = new DuplicateIds('tasks');
  let index = 0;
  for (let next = await events.next(); !next.done; next = await events.next()) {
    const event = next.value;
    if (event.type === 'element') {
      const { line, text, tooLongBytes, badUtf8 } = event;
      if (tooLongBytes !== undefined) yield tooLong(index++, line, tooLongBytes, maxBytes);
      else if (badUtf8 !== undefined) yield notUtf8(index++, line, badUtf8);
      else {
        const value = tryJson(text ?? '');
        yield value.ok
          ? toItem(value.value, index, line, index++, header, dups)
          : notJson(index++, line, value.error);
      }
    } else if (event.type === 'member' && HEADER_KEYS.includes(event.key)) {
      throw ManifestError.of(
        memberPath(event.key),
        'must come before "tasks" in a JSON manifest (it is read as a stream)',
      );
    } else if (event.type === 'member') {
      throw ManifestError.of(
        memberPath(event.key),
        event.key === 'tasks' ? 'appears twice' : 'is not a known field',
      );
    } else if (event.type === 'tasks-start') {
      throw ManifestError.of('tasks', 'appears twice');
    }
  }
}

/** A top-level member's name as a path: `limits`, or `manifest[""]` for an odd one. */
const memberPath = (key: string) => renderPath([key], 'manifest');

/** The first NDJSON line is the job header when it is an object with neither `url` nor `id`. */
function isHeaderLike(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !('url' in value) &&
    !('id' in value)
  );
}

/**
 * The format a manifest stream is in, by lib/manifest/format.ts's rule (its first line, then `declared`):
 * what the CLI labels its upload with, so the orchestrator reads the file as the CLI checked it.
 */
export async function sniffManifestFormat(
  chunks: AsyncIterable<Chunk> | Iterable<Chunk>,
  declared: DeclaredFormat,
  maxBytes = MAX_TASK_LINE_BYTES,
): Promise<ManifestFormat> {
  return (await sniffFormat(chunks, maxBytes, declared))[0];
}
