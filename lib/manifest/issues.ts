import type { z } from 'zod';
import { REDACTED, Redactor, redactUrl } from '../http/redact.js';
import type { ManifestIssue } from './errors.js';

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;
const PREVIEW_CHARS = 80;

/** `limits.inline`, `tasks[3]`, `headers["x y"]`; the empty path is `root`. */
export function renderPath(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const name = String(key);
      out += IDENTIFIER.test(name) ? `${out ? '.' : ''}${name}` : `[${JSON.stringify(name)}]`;
    }
  }
  return out === '' ? root : out.startsWith('[') ? `${root}${out}` : out;
}

/** A value as it should appear in a message, cut short so a 300 KiB body does not become the message. */
export function preview(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'bigint') text = `${value}n`;
  // String(-0) is "0": a message shows the number as it was written.
  else if (Object.is(value, -0)) text = '-0';
  else if (value === null || typeof value !== 'object') text = String(value);
  else if (Array.isArray(value)) text = `an array of ${value.length}`;
  else text = 'an object';
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…(${text.length} chars)` : text;
}

const redactor = new Redactor();

/**
 * The value of the field at `path` as a message may show it: a secret-named header's value and a body are
 * never shown, a URL only with its userinfo and secret query values redacted (messages reach logs and reports).
 */
export function previewAt(path: readonly PropertyKey[], value: unknown): string {
  const at = path.lastIndexOf('headers');
  const name = at >= 0 ? path[at + 1] : undefined;
  if (typeof name === 'string' && at === path.length - 2 && redactor.isSecret(name)) return REDACTED;
  // Inside a secret reference: a token pasted into the wrong field must not be quoted.
  if (at >= 0 && at < path.length - 2) return REDACTED;
  // The task's own body and URL only: a header named `body` or `url` is shown as any other header value.
  const field = at >= 0 && at === path.length - 2 ? undefined : path[path.length - 1];
  if (field === 'body' && typeof value === 'string') return `${REDACTED} (${value.length} chars)`;
  if (field === 'url' && typeof value === 'string') return preview(redactUrl(value));
  return preview(value);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Turns zod's issues into ones that each start with the field's path and the value it had. */
export function toManifestIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  root: string,
): ManifestIssue[] {
  const out: ManifestIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = renderPath([...issue.path, key], root);
        out.push({ path, message: `${path}: is not a known field` });
      }
      continue;
    }
    const path = renderPath(issue.path, root);
    if (issue.code === 'invalid_key') {
      const key = issue.path[issue.path.length - 1];
      const reason = issue.issues[0]?.message ?? 'is not a valid key';
      out.push({ path, message: `${path}: ${preview(String(key))} ${reason}` });
      continue;
    }
    const value = valueAt(input, issue.path);
    const message =
      value === undefined
        ? `${path}: is required`
        : `${path}: ${previewAt(issue.path, value)} ${issue.message}`;
    out.push({ path, message });
  }
  return out;
}
