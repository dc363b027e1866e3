// Which of the two formats a manifest is in: one rule for every reader (the CLI's check before a run,
// the content type of its upload, the orchestrator's reader), so none of them reads a file as the other
// format. The bytes decide whenever they can tell; the name (or content type) only settles what they
// cannot:
//   1. The first line is a whole JSON object: with a `tasks` member it is a JSON manifest, without one it
//      is NDJSON (that line is its header or its first task). Both shapes are conclusive.
//   2. The first line is the start of a JSON object that goes on (`{`, `{ "jobId": "x",`) and does not end
//      inside a string (a JSON string never holds a line break): a JSON manifest, written over lines.
//   3. Otherwise (an empty file, a first line that is neither): `.ndjson`/`.jsonl` or an NDJSON content
//      type reads it as NDJSON (its first line is then reported invalid, the rest run); anything else as
//      JSON, which refuses it naming the line.
// So a JSON manifest named `.ndjson` or `.txt` runs as JSON, NDJSON named `.json` runs as NDJSON, and no
// manifest is read as all-invalid lines because of its name.
import { ManifestError } from './errors.js';
import { JsonManifestScanner } from './scan-json.js';

export const ManifestFormats = { INLINE: 'inline', JSON: 'json', NDJSON: 'ndjson' } as const;
export type ManifestFormat = (typeof ManifestFormats)[keyof typeof ManifestFormats];
/** What a file's name or content type says it is: JSON, NDJSON, or nothing. */
export type DeclaredFormat = typeof ManifestFormats.JSON | typeof ManifestFormats.NDJSON | undefined;

/** The format a name (`x.ndjson`, `x.jsonl`, `x.json`) declares, else its content type's, else none. */
export function declaredFormat(name?: string, contentType?: string): DeclaredFormat {
  const lower = (name ?? '').toLowerCase();
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return ManifestFormats.NDJSON;
  if (lower.endsWith('.json')) return ManifestFormats.JSON;
  if (contentType && /ndjson|jsonl|jsonlines/i.test(contentType)) return ManifestFormats.NDJSON;
  if (contentType && /application\/json/i.test(contentType)) return ManifestFormats.JSON;
  return undefined;
}

/** The content type an upload of a manifest in `format` carries. */
export function contentTypeOf(format: ManifestFormat): string {
  return format === ManifestFormats.NDJSON ? 'application/x-ndjson' : 'application/json';
}

/** The rule above, from the manifest's first non-blank line (BOM removed) and what its name declares. */
export function resolveFormat(firstLine: string, declared: DeclaredFormat): ManifestFormat {
  const line = firstLine.trim();
  const whole = parseObject(line);
  if (whole !== undefined) return 'tasks' in whole ? ManifestFormats.JSON : ManifestFormats.NDJSON;
  if (line.startsWith('{') && startsJsonOverLines(line)) return ManifestFormats.JSON;
  return declared === ManifestFormats.NDJSON ? ManifestFormats.NDJSON : ManifestFormats.JSON;
}

function parseObject(line: string): object | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** True when the line is a valid beginning of a JSON manifest that continues on the next line. */
function startsJsonOverLines(line: string): boolean {
  const scanner = new JsonManifestScanner(Number.MAX_SAFE_INTEGER);
  try {
    // The scanner finds boundaries only: a member it completed must parse too.
    for (const event of scanner.feed(Buffer.from(`${line}\n`))) {
      if (event.type === 'member') JSON.parse(event.text ?? '');
    }
  } catch (error) {
    if (error instanceof ManifestError || error instanceof SyntaxError) return false;
    throw error;
  }
  return !scanner.inString;
}
