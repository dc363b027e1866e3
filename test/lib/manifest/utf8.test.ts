import { describe, expect, it } from 'vitest';
import {
  type Manifest,
  ManifestError,
  type ManifestItem,
  parseManifestStream,
} from '../../../lib/manifest/index.js';

// Bytes that are not UTF-8 are never decoded into U+FFFD and run: the NDJSON line, or the JSON task, is
// invalid with where the bad byte is; outside the tasks (a header member, a member name, before "{") the
// manifest is refused.

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

async function collect(manifest: Manifest): Promise<ManifestItem[]> {
  const out: ManifestItem[] = [];
  for await (const item of manifest.items) out.push(item);
  return out;
}

/** Every chunking of the document (one byte to whole), so a bad sequence split across chunks is caught. */
function chunkings(doc: Buffer): Buffer[][] {
  return [1, 2, 3, 7, doc.length].map((size) => {
    const out: Buffer[] = [];
    for (let i = 0; i < doc.length; i += size) out.push(doc.subarray(i, i + size));
    return out;
  });
}

async function refusal(doc: Buffer, format: 'json' | 'ndjson'): Promise<string> {
  try {
    await collect(await parseManifestStream([doc], { format }));
  } catch (error) {
    if (error instanceof ManifestError) return error.message;
    throw error;
  }
  throw new Error('not refused');
}

describe('manifest bytes that are not UTF-8', () => {
  it('NDJSON: the line is invalid, named by line and byte; the other lines run', async () => {
    const doc = bytes(
      '{"jobId":"j"}\n',
      '{"id":"a","url":"http://127.0.0.1/a"}\n',
      '{"id":"b","url":"http://127.0.0.1/b',
      [0xff],
      '"}\n',
      '{"id":"c","url":"http://127.0.0.1/',
      [0xe2, 0x82],
      '"}\r\n',
      '{"id":"d","url":"http://127.0.0.1/d\u20ac"}\n',
    );
    for (const chunks of chunkings(doc)) {
      const items = await collect(await parseManifestStream(chunks));
      expect(items.map((i) => (i.ok ? i.task.id : `${i.line}: ${i.error}`))).toEqual([
        'a',
        '3: task: is not valid UTF-8 (0xFF at byte 36)',
        '4: task: is not valid UTF-8 (0xE2 at byte 35)',
        'd',
      ]);
    }
  });

  it('NDJSON: a header line that is not UTF-8 refuses the manifest', async () => {
    const doc = bytes(
      '{"jobId":"j","defaults":{"headers":{"x":"',
      [0xc0, 0xaf],
      '"}}}\n{"id":"a","url":"http://h/"}\n',
    );
    expect(await refusal(doc, 'ndjson')).toBe(
      'manifest: line 1 (the header) is not valid UTF-8 (0xC0 at byte 42)',
    );
  });

  it('JSON: the task is invalid with its line; the other tasks run', async () => {
    const doc = bytes(
      '{"jobId":"j","tasks":[\n',
      '{"id":"a","url":"http://127.0.0.1/a"},\n',
      '{"id":"b","url":"http://127.0.0.1/',
      [0xed, 0xa0, 0x80],
      '"},\n',
      '{"id":"c","url":"http://127.0.0.1/c"}\n]}',
    );
    for (const chunks of chunkings(doc)) {
      const items = await collect(await parseManifestStream(chunks, { format: 'json' }));
      expect(items.map((i) => (i.ok ? i.task.id : `${i.line}: ${i.error}`))).toEqual([
        'a',
        '3: task: is not valid UTF-8 (0xED at byte 35)',
        'c',
      ]);
    }
  });

  it('JSON: bad bytes outside the tasks refuse the manifest', async () => {
    expect(await refusal(bytes('{"jobId":"j', [0xff], '","tasks":[]}'), 'json')).toBe(
      'jobId: is not valid UTF-8 (0xFF at byte 3)',
    );
    expect(await refusal(bytes('{"job', [0xfe], '":"j","tasks":[]}'), 'json')).toBe(
      'manifest: has a member name at line 1 that is not valid UTF-8 (0xFE at byte 5)',
    );
    expect(await refusal(bytes([0xbb], '{"jobId":"j","tasks":[]}'), 'json')).toBe(
      'manifest: is not valid JSON at line 1: expected a JSON object starting with "{"',
    );
    expect(await refusal(bytes([0xef, 0xbb], '{"jobId":"j","tasks":[]}'), 'json')).toBe(
      'manifest: is not valid JSON at line 1: expected a whole UTF-8 byte order mark',
    );
    const withBom = await parseManifestStream([bytes([0xef, 0xbb, 0xbf], '{"jobId":"j","tasks":[]}')], {
      format: 'json',
    });
    expect(withBom.header.jobId).toBe('j');
  });
});
