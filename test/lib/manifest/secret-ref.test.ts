// Issue 14 item 2: a header value may be a secret reference. Well-formed ones pass through the manifest as
// they are (merged from defaults like any value); a malformed one makes the line invalid with an error that
// names the field and never quotes what is inside the reference.
import { describe, expect, it } from 'vitest';
import { checkTask } from '../../../lib/manifest/index.js';
import { NOT_A_HEADER_VALUE, RefMessages } from '../../../lib/manifest/secret-ref-schema.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bounded-fanout/partner-AbCdEf';

const issuesOf = (headers: Record<string, unknown>) => {
  const checked = checkTask({ id: 't', url: 'http://127.0.0.1/x', headers }, undefined);
  return checked.ok ? [] : checked.issues.map((i) => i.message);
};

describe('secret references in headers', () => {
  it('accepts each source and keeps the reference in the task (resolved only when sent)', () => {
    const headers = {
      authorization: { secret: ARN },
      'x-key': { secret: ARN, jsonKey: 'apiKey' },
      'x-token': { ssm: '/bounded-fanout/partner/token' },
      'x-local': { env: 'PARTNER_TOKEN' },
      accept: 'application/json',
    };
    const checked = checkTask({ id: 't', url: 'http://127.0.0.1/x', headers }, undefined);
    expect(checked).toEqual({
      ok: true,
      task: { id: 't', url: 'http://127.0.0.1/x', headers, mode: 'queue' },
    });
  });

  it('merges a reference from defaults like a string, the task winning by name', () => {
    const checked = checkTask(
      { id: 't', url: 'http://127.0.0.1/x', headers: { Authorization: { ssm: '/bounded-fanout/b' } } },
      { headers: { authorization: { ssm: '/bounded-fanout/a' }, 'x-id': { env: 'X_ID' } } },
    );
    expect(checked.ok && checked.task.headers).toEqual({
      'x-id': { env: 'X_ID' },
      Authorization: { ssm: '/bounded-fanout/b' },
    });
  });

  it('names the field of each malformed reference, never quoting its content', () => {
    expect(
      issuesOf({
        authorization: { secret: 'Bearer pasted-s3cret-token' },
        'x-a': { ssm: 'pasted-s3cret' },
        'x-b': { env: '1BAD' },
        'x-c': { ssm: '/bounded-fanout/x', jsonKey: 'k' },
        'x-d': { secret: ARN, jsonKey: '' },
        'x-e': { secret: ARN, ssm: '/bounded-fanout/x' },
        'x-f': { secret: ARN, token: 'pasted-s3cret' },
        'x-g': { value: 'pasted-s3cret' },
        'x-h': 42,
        'x-i': ['pasted-s3cret'],
        'x-j': null,
      }),
    ).toEqual([
      `headers.authorization.secret: [REDACTED] ${RefMessages.SECRET}`,
      `headers.x-a.ssm: [REDACTED] ${RefMessages.SSM}`,
      `headers.x-b.env: [REDACTED] ${RefMessages.ENV}`,
      `headers.x-c.jsonKey: [REDACTED] ${RefMessages.JSON_KEY_SOURCE}`,
      `headers.x-d.jsonKey: [REDACTED] ${RefMessages.JSON_KEY}`,
      `headers.x-e: an object ${RefMessages.TWO_SOURCES}`,
      `headers.x-f.token: [REDACTED] ${RefMessages.UNKNOWN_FIELD}`,
      `headers.x-g.value: [REDACTED] ${RefMessages.UNKNOWN_FIELD}`,
      `headers.x-g: an object ${NOT_A_HEADER_VALUE}`,
      `headers.x-h: 42 ${NOT_A_HEADER_VALUE}`,
      `headers.x-i: an array of 1 ${NOT_A_HEADER_VALUE}`,
      `headers.x-j: null ${NOT_A_HEADER_VALUE}`,
    ]);
  });

  it('spells out the messages once (the README quotes them)', () => {
    expect(RefMessages.SECRET).toBe(
      'is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)',
    );
    expect(NOT_A_HEADER_VALUE).toBe(
      'is not a string or a secret reference ({ "secret": ARN, "jsonKey"?: KEY }, { "ssm": NAME } or { "env": NAME })',
    );
  });

  it('accepts ARNs of every partition, with or without the random suffix, and refuses look-alikes', () => {
    for (const secret of [
      ARN,
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:bounded-fanout/partner',
      'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a',
      'arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a/b_c+d=e.f@g-h',
    ]) {
      expect(issuesOf({ authorization: { secret } }), secret).toEqual([]);
    }
    for (const secret of [
      'arn:aws:secretsmanager:us-east-1:12345678901:secret:a',
      'arn:aws:ssm:us-east-1:123456789012:secret:a',
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:',
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:a b',
      'bounded-fanout/partner',
    ]) {
      expect(issuesOf({ authorization: { secret } }), secret).toEqual([
        `headers.authorization.secret: [REDACTED] ${RefMessages.SECRET}`,
      ]);
    }
  });

  it('still refuses a bad string value with its own message', () => {
    expect(issuesOf({ accept: 'a\nb' })).toEqual(['headers.accept: "a\\nb" contains CR, LF or NUL']);
  });
});
