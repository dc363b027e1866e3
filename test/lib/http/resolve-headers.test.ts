// Issue 14 item 2, the AWS-free half: a task's header references resolved through the SecretResolver port
// (here a plain in-memory resolver: the port itself, no AWS), the task itself left holding its references,
// failures that name the header and the reference and never a value, and every resolved value redacted by
// this process from then on whatever the header's name.
import { describe, expect, it } from 'vitest';
import type { HttpTask } from '../../../lib/http/http-task.js';
import { REDACTED, redactRecord, redactTask, redactText } from '../../../lib/http/redact.js';
import { resolveTaskHeaders, type TaskWithRefs } from '../../../lib/http/resolve-headers.js';
import { type SecretRef, SecretRefError, type SecretResolver } from '../../../lib/http/secret-ref.js';

/** Resolves `ssm` names from a map; anything else throws an error quoting `leak` (as a careless one might). */
function resolver(values: Record<string, string>, leak = 'x'): SecretResolver & { calls: number } {
  return {
    calls: 0,
    async resolve(ref: SecretRef) {
      this.calls++;
      if ('ssm' in ref && ref.ssm in values) return values[ref.ssm];
      if ('ssm' in ref) throw new SecretRefError(ref, 'is not set');
      throw new Error(`boom: ${leak}`);
    },
  };
}

const task = (headers: TaskWithRefs['headers']): TaskWithRefs => ({
  id: 't',
  url: 'http://h.example/x',
  headers,
});

describe('resolveTaskHeaders', () => {
  it('returns the same task when no header is a reference, without calling the resolver', async () => {
    const r = resolver({});
    const plain = task({ accept: 'a' });
    expect(await resolveTaskHeaders(plain, r)).toEqual({ ok: true, task: plain });
    expect(r.calls).toBe(0);
  });

  it('resolves each reference into a copy; the task keeps its references', async () => {
    const original = task({ 'x-a': { ssm: '/p/a' }, 'x-b': { ssm: '/p/b' }, accept: 'a' });
    const resolved = await resolveTaskHeaders(
      original,
      resolver({ '/p/a': 'value-a-123', '/p/b': 'value-b-456' }),
    );
    expect(resolved).toEqual({
      ok: true,
      task: { ...original, headers: { 'x-a': 'value-a-123', 'x-b': 'value-b-456', accept: 'a' } },
    });
    expect(original.headers).toEqual({ 'x-a': { ssm: '/p/a' }, 'x-b': { ssm: '/p/b' }, accept: 'a' });
  });

  it('fails the task naming the header and the reference, never quoting a value', async () => {
    const r = resolver({ '/p/crlf': 'crlf-s3cret\r\nx-injected: 1' }, 'leaked-s3cret');
    expect(await resolveTaskHeaders(task({ 'x-a': { ssm: '/p/none' } }), r)).toEqual({
      ok: false,
      error: {
        name: 'SecretRefError',
        code: 'BF_SECRET_UNAVAILABLE',
        message: 'headers.x-a: ssm parameter /p/none is not set',
      },
    });
    // A resolver's own error is named by its class only: its message might quote anything.
    expect(await resolveTaskHeaders(task({ 'x-b': { env: 'E' } }), r)).toEqual({
      ok: false,
      error: {
        name: 'SecretRefError',
        code: 'BF_SECRET_UNAVAILABLE',
        message: 'headers.x-b: environment variable E could not be read (Error)',
      },
    });
    const crlf = await resolveTaskHeaders(task({ 'x-c': { ssm: '/p/crlf' } }), r);
    expect(crlf).toEqual({
      ok: false,
      error: {
        name: 'SecretRefError',
        code: 'BF_SECRET_UNAVAILABLE',
        message:
          'headers.x-c: ssm parameter /p/crlf resolved to a value that is not a header value (empty, or CR, LF, a control character or a character outside Latin-1)',
      },
    });
    expect(JSON.stringify(crlf)).not.toContain('s3cret');
    expect(await resolveTaskHeaders(task({ 'x-d': { ssm: '/p/none' } }), undefined)).toMatchObject({
      ok: false,
      error: {
        message: 'headers.x-d: ssm parameter /p/none cannot be read: no secret resolver is configured',
      },
    });
  });

  it('redacts a resolved value from then on, in text and in tasks, whatever the header is called', async () => {
    const value = `Token tok-${Math.random().toString(36).slice(2)}-zz`;
    const bare = value.split(' ')[1];
    const resolved = await resolveTaskHeaders(
      task({ 'x-plain-name': { ssm: '/p/v' } }),
      resolver({ '/p/v': value }),
    );
    expect(resolved.ok).toBe(true);
    const sent = (resolved as { task: HttpTask }).task;
    expect(redactText(`upstream said ${value} and ${bare}`)).toBe(
      `upstream said ${REDACTED} and ${REDACTED}`,
    );
    expect(redactTask(sent).headers).toEqual({ 'x-plain-name': REDACTED });
    expect(redactRecord({ task: sent, error: `echo ${bare}` })).toEqual({
      task: { ...sent, headers: { 'x-plain-name': REDACTED } },
      error: `echo ${REDACTED}`,
    });
    // The task as it travels shows its reference (an ARN or a name is not a secret).
    expect(redactTask(task({ 'x-plain-name': { ssm: '/p/v' } })).headers).toEqual({
      'x-plain-name': { ssm: '/p/v' },
    });
  });
});
