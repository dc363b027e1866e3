import { describe, expect, it } from 'vitest';
import { checkTask, ManifestError, parseInlineManifest } from '../../../lib/manifest/index.js';

// Headers the HTTP client would refuse at send time are refused in the manifest, with the line's field
// and the value: a task carrying one would otherwise fail at every attempt and be dead-lettered.

const issuesOf = (headers: Record<string, string>) => {
  const checked = checkTask({ id: 't', url: 'http://127.0.0.1/x', headers }, undefined);
  return checked.ok ? [] : checked.issues.map((i) => i.message);
};

describe('manifest headers the client refuses', () => {
  it('refuses each header the client sets itself, in any letter case', () => {
    expect(
      issuesOf({
        'Transfer-Encoding': 'chunked',
        expect: '100-continue',
        UPGRADE: 'websocket',
        connection: 'close',
        'keep-alive': 'timeout=5',
        'content-length': '5',
      }),
    ).toEqual([
      'headers.Transfer-Encoding: "chunked" is set by the client; remove it',
      'headers.expect: "100-continue" is set by the client; remove it',
      'headers.UPGRADE: "websocket" is set by the client; remove it',
      'headers.connection: "close" is set by the client; remove it',
      'headers.keep-alive: "timeout=5" is set by the client; remove it',
      'headers.content-length: "5" is set by the client; remove it',
    ]);
  });

  it('refuses control characters and characters outside Latin-1, naming the character', () => {
    expect(issuesOf({ 'x-a': 'a\u0001b', 'x-b': 'a\u007fb', 'x-c': 'price: 5 €', 'x-d': 'a\r\nb' })).toEqual([
      'headers.x-a: "a\\u0001b" contains the control character U+0001',
      'headers.x-b: "a\u007fb" contains the control character U+007F',
      'headers.x-c: "price: 5 €" contains "€" (U+20AC), outside Latin-1: a header value is sent as bytes 0-255 (percent-encode it)',
      'headers.x-d: "a\\r\\nb" contains CR, LF or NUL',
    ]);
  });

  it('refuses a second host header and a __proto__ header (it would be dropped)', () => {
    expect(issuesOf({ host: 'a.example', Host: 'b.example' })).toEqual([
      'headers.Host: "b.example" repeats the host header (header names are case-insensitive)',
    ]);
    const raw = JSON.parse('{"id":"t","url":"http://127.0.0.1/x","headers":{"__proto__":"v"}}');
    const checked = checkTask(raw, undefined);
    expect(checked.ok ? [] : checked.issues.map((i) => i.message)).toEqual([
      'headers.__proto__: "v" is a header name the manifest cannot carry',
    ]);
  });

  it('refuses a host header that is not a host with an optional port (undici would assert on it)', () => {
    const why = 'is not a host with an optional port (such as "example.com:8443")';
    for (const value of ['[\t', '[::1', 'a b', 'a.example:port', ' a.example', 'a/b', '']) {
      expect(issuesOf({ host: value }), value).toEqual([`headers.host: ${JSON.stringify(value)} ${why}`]);
    }
    for (const value of [
      'a.example',
      'a.example:8443',
      '[::1]',
      '[::1]:80',
      '127.0.0.1:1',
      'xn--bcher-kva.example',
    ]) {
      expect(issuesOf({ Host: value }), value).toEqual([]);
    }
  });

  it('accepts tab, Latin-1, one host, and any other token name', () => {
    expect(
      issuesOf({
        'x-a': 'a\tb',
        'x-b': 'café ÿ',
        host: 'a.example',
        te: 'trailers',
        "x-!#$%&'*+.^_`|~": '1',
      }),
    ).toEqual([]);
  });

  it('refuses the job when defaults.headers holds one, naming the field', () => {
    let error: unknown;
    try {
      parseInlineManifest({
        jobId: 'j',
        defaults: { headers: { 'Transfer-Encoding': 'chunked' } },
        tasks: [],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).message).toBe(
      'defaults.headers.Transfer-Encoding: "chunked" is set by the client; remove it',
    );
    expect((error as ManifestError).field).toBe('defaults.headers.Transfer-Encoding');
  });
});
