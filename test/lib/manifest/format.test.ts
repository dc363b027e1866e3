import { describe, expect, it } from 'vitest';
import {
  contentTypeOf,
  declaredFormat,
  type Manifest,
  parseManifestStream,
  resolveFormat,
  sniffManifestFormat,
} from '../../../lib/manifest/index.js';

// One rule for the manifest's format (lib/manifest/format.ts): the bytes decide when they can tell, the
// name or content type only when they cannot.

const pretty = JSON.stringify(
  {
    jobId: 'p',
    tasks: [
      { id: 'a', url: 'http://127.0.0.1/a' },
      { id: 'b', url: 'http://127.0.0.1/b' },
    ],
  },
  null,
  2,
);
const oneLineJson = JSON.stringify({ jobId: 'o', tasks: [{ id: 'a', url: 'http://127.0.0.1/a' }] });
const ndjson = [
  '{"jobId":"n"}',
  '{"id":"a","url":"http://127.0.0.1/a"}',
  '{"id":"b","url":"http://127.0.0.1/b"}',
].join('\n');

async function ids(manifest: Manifest): Promise<string[]> {
  const out: string[] = [];
  for await (const item of manifest.items) out.push(item.ok ? item.task.id : `invalid line ${item.line}`);
  return out;
}

describe('the manifest format rule', () => {
  it('reads the declared format from the name first, then the content type', () => {
    expect(declaredFormat('m/x.NDJSON')).toBe('ndjson');
    expect(declaredFormat('x.jsonl', 'application/json')).toBe('ndjson');
    expect(declaredFormat('x.json', 'application/x-ndjson')).toBe('json');
    expect(declaredFormat('x.txt', 'application/x-ndjson')).toBe('ndjson');
    expect(declaredFormat('x.txt', 'application/json; charset=utf-8')).toBe('json');
    expect(declaredFormat('x.txt', 'text/plain')).toBeUndefined();
    expect(declaredFormat(undefined)).toBeUndefined();
    expect(contentTypeOf('json')).toBe('application/json');
    expect(contentTypeOf('ndjson')).toBe('application/x-ndjson');
  });

  it('lets the first line decide whenever it can, whatever the name says', () => {
    for (const declared of [undefined, 'json', 'ndjson'] as const) {
      expect(resolveFormat(oneLineJson, declared)).toBe('json');
      expect(resolveFormat('{', declared)).toBe('json');
      expect(resolveFormat('{ "jobId": "x",', declared)).toBe('json');
      expect(resolveFormat('{"jobId":"x","defaults":{', declared)).toBe('json');
      expect(resolveFormat('{"jobId":"x","tasks":[', declared)).toBe('json');
      expect(resolveFormat('{"jobId":"x"}', declared)).toBe('ndjson');
      expect(resolveFormat('{"id":"a","url":"http://h/"}', declared)).toBe('ndjson');
    }
  });

  it('asks the name only when the first line cannot tell: NDJSON if it says so, JSON otherwise', () => {
    // Not JSON at all, a truncated line (ends inside a string: JSON never breaks a line there), empty.
    for (const line of ['not json', '{"id":"a","url":"htt', '', '[1,2]', '{"id":"a" "url":1}']) {
      expect([line, resolveFormat(line, 'ndjson')]).toEqual([line, 'ndjson']);
      expect([line, resolveFormat(line, 'json')]).toEqual([line, 'json']);
      expect([line, resolveFormat(line, undefined)]).toEqual([line, 'json']);
    }
  });

  it('runs pretty JSON named .ndjson as JSON, and NDJSON named .json as NDJSON', async () => {
    const asJson = await parseManifestStream([pretty], { declared: declaredFormat('jobs.ndjson') });
    expect([asJson.format, asJson.header.jobId, await ids(asJson)]).toEqual(['json', 'p', ['a', 'b']]);
    const asNd = await parseManifestStream([ndjson], { declared: declaredFormat('jobs.json') });
    expect([asNd.format, asNd.header.jobId, await ids(asNd)]).toEqual(['ndjson', 'n', ['a', 'b']]);
    const txt = await parseManifestStream([pretty], { declared: declaredFormat('jobs.txt') });
    expect([txt.format, await ids(txt)]).toEqual(['json', ['a', 'b']]);
    const badFirst = await parseManifestStream([`not json\n${ndjson}`], {
      declared: 'ndjson',
      defaultJobId: 'd',
    });
    expect(await ids(badFirst)).toEqual(['invalid line 1', 'invalid line 2', 'a', 'b']);
    expect(await sniffManifestFormat([pretty], 'ndjson')).toBe('json');
  });
});
