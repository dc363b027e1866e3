// Issue 14: an invalid line's error never quotes a secret (errors reach logs, reports and result objects).
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkTask, parseJobHeader, parseManifestStream } from '../../../lib/manifest/index.js';

const issuesOf = (raw: Record<string, unknown>) => {
  const checked = checkTask({ id: 't', url: 'http://127.0.0.1/x', ...raw }, undefined);
  return checked.ok ? [] : checked.issues.map((i) => i.message);
};

describe('manifest errors show no secret', () => {
  it('a bad secret-named header value is named, its value redacted; a plain header keeps its value', () => {
    expect(
      issuesOf({
        headers: { Authorization: 'Bearer s3cret-1\r', 'X-Partner-Token': 'tok\u0001en', accept: 'a\nb' },
      }),
    ).toEqual([
      'headers.Authorization: [REDACTED] contains CR, LF or NUL',
      'headers.X-Partner-Token: [REDACTED] contains the control character U+0001',
      'headers.accept: "a\\nb" contains CR, LF or NUL',
    ]);
  });

  it('a bad URL is shown without its credentials or secret query values', () => {
    expect(issuesOf({ url: 'ftp://me:pw-s3cret@h.example/?token=t0k&n=1' })).toEqual([
      'url: "ftp://[REDACTED]@h.example/?token=[REDACTED]&n=1" is not an http(s) URL',
    ]);
  });

  it('refuses credentials in a URL (they would be dropped silently), without echoing them', () => {
    const why =
      'carries credentials in the URL (user:password@): put credentials in a header or a secret reference';
    expect(issuesOf({ url: 'https://user:pw-s3cret@h.example/x' })).toEqual([
      `url: "https://[REDACTED]@h.example/x" ${why}`,
    ]);
    expect(issuesOf({ url: 'https://tok-s3cret@h.example/x' })).toEqual([
      `url: "https://[REDACTED]@h.example/x" ${why}`,
    ]);
    expect(issuesOf({ url: 'http:user:pw-s3cret@h.example/' })).toEqual([
      `url: "http:[REDACTED]@h.example/" ${why}`,
    ]);
    expect(issuesOf({ url: 'https://h.example/a@b?q=c@d' })).toEqual([]);
  });

  it("a job header's secret default header is redacted too", () => {
    expect(() => parseJobHeader({ jobId: 'j', defaults: { headers: { Cookie: 'sid=s3cret\n' } } })).toThrow(
      'defaults.headers.Cookie: [REDACTED] contains CR, LF or NUL',
    );
  });

  it('a line that is not JSON is named without the excerpt V8 quotes from it', async () => {
    const text =
      '{"jobId":"j"}\n{"id":"a","url":"http://h.example/","headers":{"authorization": Bearer s3cret-9}}\n';
    const manifest = await parseManifestStream(Readable.from([Buffer.from(text)]), { declared: 'ndjson' });
    const items = [];
    for await (const item of manifest.items) items.push(item);
    expect(items).toMatchObject([
      { ok: false, line: 2, error: "task: is not valid JSON (Unexpected token 'B')" },
    ]);
  });
});
