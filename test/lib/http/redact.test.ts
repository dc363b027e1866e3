// Secret headers stay out of logs and error text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor, redactHeaders } from '../../../lib/http/index.js';

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
