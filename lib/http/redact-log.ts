// A log line leaves the process (CloudWatch, the local runtime's --verbose stderr): every string in it is
// redacted on the way out, not at each call site, because an error thrown anywhere may quote a secret (undici
// naming the request's URL with its ?token=, an SDK error quoting a presigned URL, a server echoing a value
// resolved from a secret reference). Used as Powertools' jsonReplacerFn, which JSON.stringify calls for every
// value of the line, and again for the strings of an Error once Powertools has formatted it (message, stack,
// cause): URL userinfo and secret-named query values go, and so does every value rememberSecretValue holds.
import { redactText } from './redact.js';

/** A JSON replacer that redacts every string value (redactText); other values pass unchanged. */
export function redactLogValue(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? redactText(value) : value;
}
