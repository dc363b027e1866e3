// A task's header references replaced by their values just before it is sent. The value reaches only the
// request: the task that travels on (messages, dead letters, reports) keeps its references. Every value is
// remembered for redaction first, and a reference that does not resolve fails this task alone, with an
// error naming the header and the reference, never a value.
import type { HttpTask, HttpTaskError, HttpTaskResult } from './http-task.js';
import { rememberSecretValue } from './redact.js';
import {
  type HeaderValue,
  isSecretRef,
  SecretErrorCodes,
  type SecretRef,
  SecretRefError,
  type SecretResolver,
} from './secret-ref.js';

/** A task whose header values may still be references (a JobTask). */
export type TaskWithRefs = Omit<HttpTask, 'headers'> & {
  readonly headers?: Readonly<Record<string, HeaderValue>>;
};

export type ResolvedHeaders =
  | { readonly ok: true; readonly task: HttpTask }
  | { readonly ok: false; readonly error: HttpTaskError };

// What undici sends as a header value: tab, visible ASCII and Latin-1 (lib/manifest/schema.ts says why).
const HEADER_VALUE_CHARS = /^[\t\x20-\x7e\x80-\xff]*$/;

/** `task` with every referenced header value resolved; the same object when it has no reference. */
export async function resolveTaskHeaders(
  task: TaskWithRefs,
  resolver: SecretResolver | undefined,
): Promise<ResolvedHeaders> {
  const headers = task.headers;
  const refs = headers ? Object.entries(headers).filter(([, value]) => isSecretRef(value)) : [];
  if (refs.length === 0) return { ok: true, task: task as HttpTask };
  const out: Record<string, string> = { ...(headers as Record<string, string>) };
  const failures = await Promise.all(
    refs.map(async ([name, value]) => {
      const ref = value as SecretRef;
      try {
        if (!resolver) throw new SecretRefError(ref, 'cannot be read: no secret resolver is configured');
        const resolved = await resolver.resolve(ref);
        if (typeof resolved !== 'string') throw new SecretRefError(ref, 'did not resolve to a string');
        rememberSecretValue(resolved);
        if (resolved === '' || !HEADER_VALUE_CHARS.test(resolved)) {
          throw new SecretRefError(
            ref,
            'resolved to a value that is not a header value (empty, or CR, LF, a control character or a character outside Latin-1)',
          );
        }
        out[name] = resolved;
        return undefined;
      } catch (error) {
        return failure(name, ref, error);
      }
    }),
  );
  const failed = failures.find((f) => f !== undefined);
  return failed ? { ok: false, error: failed } : { ok: true, task: { ...task, headers: out } as HttpTask };
}

// A resolver's own error is trusted for its message only when it is a SecretRefError (built to name the
// reference and nothing else); any other error is named by its class.
function failure(name: string, ref: SecretRef, error: unknown): HttpTaskError {
  const e =
    error instanceof SecretRefError
      ? error
      : new SecretRefError(ref, `could not be read (${(error as Error)?.name ?? 'Error'})`);
  return {
    name: e.name,
    code: e.code ?? SecretErrorCodes.UNAVAILABLE,
    message: `headers.${name}: ${e.message}`,
  };
}

/**
 * The result of a task whose references did not resolve: nothing was sent, and another delivery would fail
 * the same way until the secret exists (the SDK has retried a throttled or lost call already), so it is not
 * retryable: the task is dead-lettered at once, with the error naming the reference.
 */
export function unresolvedResult(id: string, error: HttpTaskError): HttpTaskResult {
  return { id, ok: false, status: 0, attempts: 0, durationMs: 0, error, retryable: false };
}
