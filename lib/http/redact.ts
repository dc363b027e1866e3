// The one place secrets are kept out of what leaves a run (errors, logs, reports, result objects): headers
// named like secrets, URL userinfo, secret-named query parameters and bodies are replaced, and their values
// scrubbed from any text (an error message echoing a header) before it leaves. Queue messages are not
// redacted: they must carry tasks whole to run them again. A header naming a secret (lib/http/secret-ref.ts)
// carries a reference, shown as it is; the value it resolved to is remembered here (rememberSecretValue) and
// scrubbed from every text this process redacts, whatever the header's name.
import { type HeaderValue, isSecretRef } from './secret-ref.js';

export const REDACTED = '[REDACTED]';

/** Header names always treated as secrets. */
export const secretHeaderNames = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-amz-security-token',
] as const;

// Names that look like a credential whatever the prefix: x-auth-token, x-client-secret, api-key, ...
const SECRET_LIKE = /(auth|token|secret|password|passwd|api[-_]?key|session|credential|signature)/i;

export type SecretNames = readonly (string | RegExp)[];

type Headers = Readonly<Record<string, HeaderValue | string[] | undefined>>;

// Values resolved from secret references in this process (a container, or the local runtime with its
// functions): a handful per job, kept for the life of the process so a late log line is scrubbed too.
const resolvedSecrets = new Set<string>();

/** Remembers a value resolved from a secret reference: every scrub in this process replaces it from now on. */
export function rememberSecretValue(value: string): void {
  for (const part of credentialParts(value)) resolvedSecrets.add(part);
}

// The whole value and what follows an auth scheme ("Bearer abc" leaks "abc" on its own too); shorter than 4
// characters is left alone (scrubbing "ab" would wreck every text).
function credentialParts(value: string): string[] {
  return [value, ...value.trim().split(/\s+/).slice(1)].filter((part) => part.length >= 4);
}

export class Redactor {
  readonly #names: Set<string>;
  readonly #patterns: RegExp[];

  /** `extra`: more header names (case-insensitive) or patterns to treat as secrets. */
  constructor(extra: SecretNames = []) {
    this.#names = new Set(secretHeaderNames);
    this.#patterns = [SECRET_LIKE];
    for (const name of extra) {
      if (name instanceof RegExp) this.#patterns.push(name);
      else this.#names.add(name.toLowerCase());
    }
  }

  isSecret(name: string): boolean {
    const n = name.toLowerCase();
    return this.#names.has(n) || this.#patterns.some((p) => p.test(n));
  }

  /** A copy of `headers` with every secret value replaced by [REDACTED]; a secret reference is shown as it is. */
  headers(headers: Headers | undefined): Record<string, HeaderValue> {
    const out: Record<string, HeaderValue> = {};
    if (!headers) return out;
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      if (isSecretRef(value)) out[name] = this.isSecret(name) ? REDACTED : value;
      else {
        const text = String(value);
        out[name] = this.isSecret(name) || resolvedSecrets.has(text) ? REDACTED : text;
      }
    }
    return out;
  }

  /** The secret values carried by `headers`, for scrubbing text (a reference carries none). */
  secretValues(headers: Headers | undefined): string[] {
    const values: string[] = [];
    if (!headers) return values;
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || !this.isSecret(name)) continue;
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string') values.push(...credentialParts(v));
      }
    }
    return values;
  }

  /** `text` with every secret value (and every value resolved from a reference), and any user:password in a URL, replaced. */
  scrub(text: string, secrets: readonly string[]): string {
    let out = text.replace(USERINFO_IN_TEXT, `$1${REDACTED}@`);
    const all = resolvedSecrets.size === 0 ? secrets : longestFirst([...secrets, ...resolvedSecrets]);
    for (const s of all) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }
}

const longestFirst = (values: string[]) => values.sort((a, b) => b.length - a.length);

/** Headers with secret values replaced, for logs. */
export function redactHeaders(
  headers: Headers | undefined,
  extra: SecretNames = [],
): Record<string, HeaderValue> {
  return new Redactor(extra).headers(headers);
}

// Query parameters named like a credential (api_key, access_token, sig... as whole names or parts), and every
// X-Amz-* parameter of a presigned URL (the signature, the credential scope, the session token).
const SECRET_QUERY = /(token|key|secret|signature|password|passwd|pwd|session|auth|credential)/i;
const AMZ_QUERY = /^x-amz-/i;
// Names too short to match as parts: Azure's shared access signature (`sig`).
const SECRET_QUERY_WHOLE = /^sig$/i;

export function isSecretQueryName(name: string): boolean {
  return SECRET_QUERY.test(name) || AMZ_QUERY.test(name) || SECRET_QUERY_WHOLE.test(name);
}

// userinfo (user:password@ or token@) between the scheme and the host; WHATWG URLs also take `http:u:p@h`
// and backslashes for an http(s) URL's slashes. Up to the LAST `@` before the path, query or fragment, as the
// URL parser reads it: a password may hold `@`, spaces and backslashes (`http://u:p@ss w\rd@h/` is user `u`,
// password `p@ss w\rd`), and stopping at the first of them would show the rest.
const USERINFO = /^([a-z][a-z0-9+.-]*:[\\/]*)[^/?#]*@/i;
// In free text a URL ends at a blank or a quote: userinfo there is anything up to its last `@` before them.
const USERINFO_IN_TEXT = /(\/\/)[^/?#\s"'<>`]+@/g;
// A URL quoted in text (a manifest error quotes the value it refused): the quotes say where it ends, spaces in it
// and all, so its userinfo is found as in a URL field. In text that is itself JSON-escaped the closing quote is
// `\"`: that backslash is kept, outside the URL. A quote cut short (`…(N chars)`, lib/manifest/issues.ts) has no
// closing quote of its own, so it is left to the match of URLs in text below.
const QUOTED_URL = /"([a-z][a-z0-9+.-]*:[\\/]+(?:[^"\\…]|\\(?!"))*)(\\?)"/gi;

/**
 * `url` with its userinfo and the values of secret-named query parameters replaced. Works on text that is
 * not a valid URL too (a manifest line may hold anything): only the shape is read, never resolved.
 */
export function redactUrl(url: string): string {
  let out = url.replace(USERINFO, `$1${REDACTED}@`);
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const end = hash < 0 ? out.length : hash;
  const query = out
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const raw = eq < 0 ? pair : pair.slice(0, eq);
      let name = raw;
      try {
        name = decodeURIComponent(raw.replace(/\+/g, ' '));
      } catch {}
      return eq >= 0 && isSecretQueryName(name) ? `${raw}=${REDACTED}` : pair;
    })
    .join('&');
  out = `${out.slice(0, q + 1)}${query}${out.slice(end)}`;
  return out;
}

// URLs inside free text (an error message naming the request). Not across a backslash: in JSON-escaped text
// it starts the escape of the closing quote, and a URL's own (`u:p\@h`) is userinfo the text scrub takes.
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`\\]+/gi;

/** A task as it may be shown: secret headers, URL userinfo, secret query values and the body redacted. */
export interface RedactableTask {
  readonly url?: unknown;
  readonly headers?: unknown;
  readonly body?: unknown;
}

/**
 * Everything secret a task carries, as strings to scrub from text about it: secret header values (and the
 * credential after an auth scheme), the URL's userinfo and secret query values, the body.
 */
export function taskSecrets(task: RedactableTask, redactor = defaultRedactor): string[] {
  const out: string[] = [];
  if (isRecord(task.headers)) out.push(...redactor.secretValues(task.headers as Headers));
  if (typeof task.url === 'string') out.push(...urlSecrets(task.url));
  if (typeof task.body === 'string' && task.body.length >= 4) out.push(task.body);
  return out;
}

function urlSecrets(url: string): string[] {
  const out: string[] = [];
  const user = USERINFO.exec(url);
  if (user) {
    const info = user[0].slice(user[1].length, -1);
    out.push(info, ...info.split(':'));
  }
  const q = url.indexOf('?');
  if (q >= 0) {
    for (const pair of url.slice(q + 1).split(/[&#]/)) {
      const eq = pair.indexOf('=');
      if (eq < 0 || !isSecretQueryName(pair.slice(0, eq))) continue;
      const raw = pair.slice(eq + 1);
      out.push(raw);
      try {
        out.push(decodeURIComponent(raw.replace(/\+/g, ' ')));
      } catch {}
    }
  }
  return out.filter((s) => s.length >= 4);
}

/** A copy of `task` fit for a report, a log or a result object; tasks in queue messages stay whole. */
export function redactTask<T extends RedactableTask>(task: T, redactor = defaultRedactor): T {
  const out: Record<string, unknown> = { ...(task as object) };
  if (typeof task.url === 'string') out.url = redactUrl(task.url);
  if (isRecord(task.headers)) out.headers = redactor.headers(task.headers as Headers);
  if (task.body !== undefined && task.body !== null) out.body = REDACTED;
  return out as T;
}

/** `text` with every URL in it redacted (redactUrl), and `secrets` replaced wherever they appear. */
export function redactText(
  text: string,
  secrets: readonly string[] = [],
  redactor = defaultRedactor,
): string {
  const quoted = text.replace(QUOTED_URL, (_, url: string, bs: string) => `"${redactUrl(url)}${bs}"`);
  return redactor.scrub(
    quoted.replace(URL_IN_TEXT, (url) => redactUrl(url)),
    [...secrets].sort((a, b) => b.length - a.length),
  );
}

/**
 * A record about one task (a dead letter, an invalid line) fit for a result object, a log or a report: its
 * `task` redacted, and each of its strings scrubbed of that task's secrets and of URL secrets.
 */
export function redactRecord<T extends object>(record: T, redactor = defaultRedactor): T {
  const task = (record as { task?: unknown }).task;
  const secrets = isRecord(task) ? taskSecrets(task, redactor) : [];
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === 'task' && isRecord(value)) out[key] = redactTask(value, redactor);
    else out[key] = typeof value === 'string' ? redactText(value, secrets, redactor) : value;
  }
  return out as T;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const defaultRedactor = new Redactor();
