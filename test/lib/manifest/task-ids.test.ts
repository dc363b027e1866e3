import { describe, expect, it } from 'vitest';
import { type ManifestItem, parseManifestStream } from '../../../lib/manifest/index.js';

// A numeric task id is read by JSON.parse, which rounds an integer past 2^53 - 1: 9007199254740993 is read as
// 9007199254740992, so two ids written apart would be run, reported and recorded as one.

const UNSAFE =
  'is past 9007199254740991, the largest integer a JSON number holds exactly (it is read rounded, as shown here, and could be taken for another id): write the id as a string';

async function items(text: string): Promise<ManifestItem[]> {
  const manifest = await parseManifestStream([Buffer.from(text)], { format: 'ndjson' });
  const out: ManifestItem[] = [];
  for await (const item of manifest.items) out.push(item);
  return out;
}

describe('numeric task ids', () => {
  it('an integer past 2^53 - 1 is an invalid line naming the id; its neighbours run', async () => {
    const got = await items(
      [
        '{"jobId":"j"}',
        '{"id":9007199254740993,"url":"http://127.0.0.1/a"}',
        '{"id":9007199254740992,"url":"http://127.0.0.1/b"}',
        '{"id":9007199254740991,"url":"http://127.0.0.1/c"}',
        '{"id":1e300,"url":"http://127.0.0.1/d"}',
        '{"id":-1,"url":"http://127.0.0.1/e"}',
        '{"id":"9007199254740993","url":"http://127.0.0.1/f"}',
        '',
      ].join('\n'),
    );
    expect(
      got.map((i) => (i.ok ? { line: i.line, id: i.task.id } : { line: i.line, error: i.error })),
    ).toEqual([
      { line: 2, error: `id: 9007199254740992 ${UNSAFE}` },
      { line: 3, error: `id: 9007199254740992 ${UNSAFE}` },
      { line: 4, id: '9007199254740991' },
      { line: 5, error: `id: 1e+300 ${UNSAFE}` },
      { line: 6, error: 'id: -1 is not a task id (a non-empty string or a non-negative integer)' },
      { line: 7, id: '9007199254740993' },
    ]);
    // A refused id is not reported as the task's id: the rounded one could be another task's.
    expect([got[0], got[1], got[3]].map((i) => !i.ok && i.id)).toEqual([undefined, undefined, undefined]);
  });
});
