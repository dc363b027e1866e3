// Secrets in request headers never reach an error or a log line: headers named like secrets are replaced,
// and their values are scrubbed from any text (an error message echoing a header) before it leaves.

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

  /** A copy of `headers` with every secret value replaced by [REDACTED]. */
  headers(
    headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
  ): Record<string, string> {
    const out: Record<string, string> = {};
    if (!headers) return out;
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      out[name] = this.isSecret(name) ? REDACTED : String(value);
    }
    return out;
  }

  /** The secret values carried by `headers`, for scrubbing text. */
  secretValues(headers: Readonly<Record<string, string | string[] | undefined>> | undefined): string[] {
    const values: string[] = [];
    if (!headers) return values;
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || !this.isSecret(name)) continue;
      for (const v of Array.isArray(value) ? value : [value]) {
        // The whole value and what follows an auth scheme ("Bearer abc" leaks "abc" on its own too).
        for (const part of [v, ...v.trim().split(/\s+/).slice(1)]) if (part.length >= 4) values.push(part);
      }
    }
    return values;
  }

  /** `text` with every secret value, and any user:password in a URL, replaced. */
  scrub(text: string, secrets: readonly string[]): string {
    let out = text.replace(/(\/\/)[^/\s:@]+:[^/\s@]+@/g, `$1${REDACTED}@`);
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }
}

/** Headers with secret values replaced, for logs. */
export function redactHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
  extra: SecretNames = [],
): Record<string, string> {
  return new Redactor(extra).headers(headers);
}
