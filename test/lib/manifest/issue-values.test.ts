import { describe, expect, it } from 'vitest';
import { checkTask, parseManifestStream } from '../../../lib/manifest/index.js';

// How a manifest error shows the value a task's body or headers had when it is of the wrong type: the field's
// path, then the value as written (a number as a number, a string quoted), then why.

const NOT_A_HEADER_VALUE =
  'is not a string or a secret reference ({ "secret": ARN, "jsonKey"?: KEY }, { "ssm": NAME } or { "env": NAME })';
const NOT_HEADERS = 'is not an object of header names to strings or secret references';

const issuesOf = (raw: Record<string, unknown>) => {
  const checked = checkTask({ id: 't', url: 'http://127.0.0.1/x', ...raw }, undefined);
  return checked.ok ? [] : checked.issues.map((i) => i.message);
};

describe('the value a body or headers error shows', () => {
  it('a number as a number, -0 included; a string quoted', () => {
    expect(issuesOf({ body: 5 })).toEqual(['body: 5 is not a string']);
    expect(issuesOf({ body: -0 })).toEqual(['body: -0 is not a string']);
    expect(issuesOf({ body: 2.5 })).toEqual(['body: 2.5 is not a string']);
    expect(issuesOf({ headers: 5 })).toEqual([`headers: 5 ${NOT_HEADERS}`]);
    expect(issuesOf({ headers: '5' })).toEqual([`headers: "5" ${NOT_HEADERS}`]);
    expect(issuesOf({ headers: { 'x-count': 5 } })).toEqual([`headers.x-count: 5 ${NOT_A_HEADER_VALUE}`]);
    expect(issuesOf({ headers: { 'x-count': -0 } })).toEqual([`headers.x-count: -0 ${NOT_A_HEADER_VALUE}`]);
  });

  it('a header named body or url is a header: its value is quoted as any other header value is', () => {
    expect(issuesOf({ headers: { body: 'a\nb', url: 'c\rd' } })).toEqual([
      'headers.body: "a\\nb" contains CR, LF or NUL',
      'headers.url: "c\\rd" contains CR, LF or NUL',
    ]);
    expect(issuesOf({ headers: { body: 7 } })).toEqual([`headers.body: 7 ${NOT_A_HEADER_VALUE}`]);
  });

  it('the same through an NDJSON manifest, where -0 is written as such', async () => {
    const text = '{"jobId":"j"}\n{"id":"a","url":"http://127.0.0.1/a","body":-0}\n';
    const manifest = await parseManifestStream([Buffer.from(text)], { format: 'ndjson' });
    const errors: string[] = [];
    for await (const item of manifest.items) if (!item.ok) errors.push(item.error);
    expect(errors).toEqual(['body: -0 is not a string']);
  });
});
