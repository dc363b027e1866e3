// Secret headers stay out of logs and error text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  REDACTED,
  Redactor,
  redactHeaders,
  redactRecord,
  redactTask,
  redactText,
  redactUrl,
} from '../../../lib/http/index.js';

describe('redactHeaders', () => {
  it('replaces the values of secret headers, whatever their case, and keeps the rest', () => {
    const headers = {
      Authorization: 'Bearer abc123',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      Cookie: 'sid=1',
      'X-API-Key': 'k',
      'x-auth-token': 't',
      'x-client-secret': 's',
      api_key: 'a',
      accept: 'application/json',
      'content-type': 'text/plain',
      'x-request-id': 'r-1',
    };
    expect(redactHeaders(headers)).toEqual({
      Authorization: REDACTED,
      'proxy-authorization': REDACTED,
      Cookie: REDACTED,
      'X-API-Key': REDACTED,
      'x-auth-token': REDACTED,
      'x-client-secret': REDACTED,
      api_key: REDACTED,
      accept: 'application/json',
      'content-type': 'text/plain',
      'x-request-id': 'r-1',
    });
  });

  it('takes more names and patterns', () => {
    expect(
      redactHeaders({ 'x-partner-pin': '1', 'x-sig-v2': '2', 'x-other': '3' }, ['X-Partner-Pin', /^x-sig-/]),
    ).toEqual({
      'x-partner-pin': REDACTED,
      'x-sig-v2': REDACTED,
      'x-other': '3',
    });
  });
});

describe('Redactor.scrub', () => {
  const r = new Redactor();

  it('removes secret values and URL credentials from text', () => {
    const secrets = r.secretValues({ authorization: 'Bearer tok-123456', accept: 'text/html' });
    expect(secrets).toEqual(['Bearer tok-123456', 'tok-123456']);
    expect(r.scrub('failed with tok-123456 at https://user:pw@host/x', secrets)).toBe(
      `failed with ${REDACTED} at https://${REDACTED}@host/x`,
    );
  });

  it('no secret value survives in any text it appears in', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9_\-.]{4,40}$/);
    fc.assert(
      fc.property(secret, fc.string(), fc.string(), (s, before, after) => {
        const values = r.secretValues({ 'x-api-key': s, authorization: `Bearer ${s}` });
        return !r.scrub(`${before}${s}${after}`, values).includes(s) || `${before}${after}`.includes(s);
      }),
    );
  });
});

describe('redactUrl', () => {
  it.each([
    ['https://user:pw-123@host.example/x', 'https://[REDACTED]@host.example/x'],
    ['https://tok-only@host.example/x', 'https://[REDACTED]@host.example/x'],
    [
      'https://h.example/p?token=t1&page=2&api_key=k1&access_token=a1&Session=s1',
      'https://h.example/p?token=[REDACTED]&page=2&api_key=[REDACTED]&access_token=[REDACTED]&Session=[REDACTED]',
    ],
    [
      'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1&X-Amz-Date=2026&X-Amz-Signature=abc#frag',
      'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=[REDACTED]&X-Amz-Credential=[REDACTED]&X-Amz-Date=[REDACTED]&X-Amz-Signature=[REDACTED]#frag',
    ],
    [
      'https://h.example/p?sig=1&password=p&client_secret=c&auth=a&pwd=x&signal=on',
      'https://h.example/p?sig=[REDACTED]&password=[REDACTED]&client_secret=[REDACTED]&auth=[REDACTED]&pwd=[REDACTED]&signal=on',
    ],
    // A password may hold `@`, spaces and backslashes: the userinfo runs to the last `@` before the path.
    ['http://user:hun terSECRET@127.0.0.1:8/ok', 'http://[REDACTED]@127.0.0.1:8/ok'],
    ['http://user:@SECRETBB@127.0.0.1:8/ok', 'http://[REDACTED]@127.0.0.1:8/ok'],
    ['https://user:pass\\@host/', 'https://[REDACTED]@host/'],
    ['http://h.example/p@x?token=t', 'http://h.example/p@x?token=[REDACTED]'],
    ['https://h.example/p?q=search&id=7', 'https://h.example/p?q=search&id=7'],
    ['not a url?token=abc', 'not a url?token=[REDACTED]'],
  ])('%s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe('URL passwords of any characters a URL takes', () => {
  // Every character the URL parser keeps in a password (not `/`, `?`, `#`, which end the authority).
  const password = fc.string({
    unit: fc.constantFrom(..."aZ9 @\\:;!$&'()*+,=-._~%é".split('')),
    minLength: 4,
  });
  it('leave no trace in the redacted URL, in a text quoting it, or in the task’s redacted record', () => {
    fc.assert(
      fc.property(password, (pw) => {
        fc.pre(!'[REDACTED]'.includes(pw) && !pw.startsWith('@') && !pw.endsWith('@'));
        const url = `http://user:${pw}@127.0.0.1:8/ok`;
        expect(redactUrl(url)).toBe('http://[REDACTED]@127.0.0.1:8/ok');
        expect(redactText(`url: "${url}" is not valid`)).not.toContain(pw);
        expect(redactText(JSON.stringify({ error: `url: "${url}" x` }))).not.toContain(pw);
        const record = redactRecord({ error: `url: "${url}" x (…)`, task: { id: 't', url } });
        expect(JSON.stringify(record)).not.toContain(pw);
      }),
      { numRuns: 300 },
    );
  });
});

describe('redactTask, redactRecord, redactText', () => {
  const task = {
    id: 'a',
    url: 'https://u:p4ssword@h.example/x?token=t0k3n-1&page=1',
    method: 'POST',
    headers: { Authorization: 'Bearer b3arer-1', 'X-Partner-Secret': 'p4rtner-1', accept: 'text/plain' },
    body: '{"password":"b0dy-1"}',
    mode: 'queue',
  };

  it('redacts the headers, the URL and the body of a task, and leaves the rest', () => {
    expect(redactTask(task)).toEqual({
      id: 'a',
      url: 'https://[REDACTED]@h.example/x?token=[REDACTED]&page=1',
      method: 'POST',
      headers: { Authorization: REDACTED, 'X-Partner-Secret': REDACTED, accept: 'text/plain' },
      body: REDACTED,
      mode: 'queue',
    });
  });

  it("scrubs a record's texts of its task's secrets", () => {
    const record = { task, attempts: 1, error: 'got b3arer-1 and p4rtner-1 at https://x.example/?auth=zz' };
    expect(redactRecord(record)).toEqual({
      task: redactTask(task),
      attempts: 1,
      error: `got ${REDACTED} and ${REDACTED} at https://x.example/?auth=${REDACTED}`,
    });
  });

  it('no secret of a task, wherever it is placed, survives in its redacted record (property)', () => {
    const value = fc.stringMatching(/^[A-Za-z0-9_\-.~]{6,40}$/);
    const headerName = fc.constantFrom(
      'Authorization',
      'Cookie',
      'X-Api-Key',
      'x-auth-token',
      'X-Client-Secret',
    );
    const queryName = fc.constantFrom(
      'token',
      'api_key',
      'access_token',
      'X-Amz-Signature',
      'password',
      'sessionId',
    );
    const place = fc.constantFrom('header', 'query', 'userinfo', 'body');
    fc.assert(
      fc.property(value, headerName, queryName, place, fc.string(), (v, h, q, where, noise) => {
        const t: Record<string, unknown> = { id: 'p', url: 'https://h.example/x', mode: 'queue' };
        if (where === 'header') t.headers = { [h]: h === 'Authorization' ? `Bearer ${v}` : v };
        if (where === 'query') t.url = `https://h.example/x?${q}=${v}&n=1`;
        if (where === 'userinfo') t.url = `https://user:${v}@h.example/x`;
        if (where === 'body') t.body = v;
        const out = JSON.stringify(redactRecord({ task: t, error: `${noise}${v}${noise}`, url: t.url }));
        return !out.includes(v) || noise.includes(v) || JSON.stringify(noise).includes(v);
      }),
      { numRuns: 500 },
    );
  });

  it('redactText redacts every URL in a text', () => {
    expect(redactText('GET https://a:b@h.example/?key=1 failed; see http://h2.example/?x=1&secret=2.')).toBe(
      `GET https://${REDACTED}@h.example/?key=${REDACTED} failed; see http://h2.example/?x=1&secret=${REDACTED}`,
    );
  });
});
