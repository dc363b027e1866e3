// Issue 14: the functions' log lines of arbitrary errors. An error thrown anywhere (undici quoting the request's
// URL with its ?token=, an SDK error quoting a presigned URL, a value resolved from a secret reference echoed by
// a server) reaches Powertools' logger as a message, an attribute or an Error: every string of the line, the
// Error's message, stack and cause included, leaves redacted. Drives the real Logger the functions build
// (functions/function-logger.ts) and reads what it writes to the process's stdout/stderr.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { functionLogger } from '../../functions/function-logger.js';
import { rememberSecretValue } from '../../lib/http/redact.js';

const secret = (label: string) => `${label}-LEAKMARK-${randomBytes(12).toString('hex')}`;
let written: string[];

beforeEach(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  process.env.POWERTOOLS_DEV = 'false';
  written = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
});

afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.POWERTOOLS_LOG_LEVEL;
});

describe('functionLogger', () => {
  it('writes no secret from an error message, its stack, its cause or an attribute', () => {
    const s = { token: secret('token'), sig: secret('sig'), user: secret('user'), pass: secret('pass') };
    const resolved = secret('resolved');
    rememberSecretValue(`Bearer ${resolved}`);
    const url = `http://${s.user}:${s.pass}@127.0.0.1:9/t?token=${s.token}&X-Amz-Signature=${s.sig}&page=2`;
    const cause = new Error(`connect ECONNREFUSED for ${url}`);
    const error = new TypeError(`fetch failed: ${url}`, { cause });
    const logger = functionLogger('bounded-fanout-test');
    logger.error('message not settled', { error: `TypeError: fetch failed: ${url}`, raw: error });
    logger.warn(`server said: Bearer ${resolved} is not valid for ${url}`);
    logger.error('thrown', error);

    const text = written.join('');
    expect(written).toHaveLength(3);
    const hits = [...Object.values(s), resolved].filter((v) => text.includes(v));
    expect(hits).toEqual([]);
    // What is shown instead: the same lines with the values replaced, the rest kept.
    const lines = written.map((line) => JSON.parse(line));
    expect(lines[0].error).toBe(
      'TypeError: fetch failed: http://[REDACTED]@127.0.0.1:9/t?token=[REDACTED]&X-Amz-Signature=[REDACTED]&page=2',
    );
    expect(lines[0].raw).toMatchObject({
      name: 'TypeError',
      message:
        'fetch failed: http://[REDACTED]@127.0.0.1:9/t?token=[REDACTED]&X-Amz-Signature=[REDACTED]&page=2',
      cause: {
        message:
          'connect ECONNREFUSED for http://[REDACTED]@127.0.0.1:9/t?token=[REDACTED]&X-Amz-Signature=[REDACTED]&page=2',
      },
    });
    expect(lines[1].message).toBe(
      'server said: [REDACTED] is not valid for http://[REDACTED]@127.0.0.1:9/t?token=[REDACTED]&X-Amz-Signature=[REDACTED]&page=2',
    );
    expect(lines[2].level).toBe('ERROR');
    expect(lines[2].error.message).toContain('token=[REDACTED]');
  });
});
