import { describe, expect, it } from 'vitest';
import {
  type Manifest,
  ManifestError,
  type ManifestItem,
  parseInlineManifest,
  parseManifestStream,
} from '../../../lib/manifest/index.js';
import { MAX_TASK_BYTES } from '../../../lib/wire/sqs-limits.js';

async function collect(manifest: Manifest): Promise<ManifestItem[]> {
  const out: ManifestItem[] = [];
  for await (const item of manifest.items) out.push(item);
  return out;
}

function chunked(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function refusal(fn: () => unknown): ManifestError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return error as ManifestError;
  }
  throw new Error('expected a ManifestError');
}

async function refusalAsync(fn: () => Promise<unknown>): Promise<ManifestError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return error as ManifestError;
  }
  throw new Error('expected a ManifestError');
}

const job = {
  jobId: 'nightly',
  defaults: { method: 'post', headers: { Accept: 'text/plain', 'x-team': 'a' }, timeoutMs: 2000 },
  limits: { inline: 4 },
  toleratedFailurePercent: 10,
  tasks: [
    { id: 'a', url: 'https://example.com/a' },
    { id: 'b', url: 'https://example.com/b', headers: { accept: 'application/json' }, mode: 'inline' },
    { id: 7, url: 'https://example.com/c', method: 'GET', timeoutMs: 500 },
  ],
};

describe('inline manifests', () => {
  it('fills tasks from defaults: headers merge by name (case-insensitive), the task wins', async () => {
    const manifest = parseInlineManifest(job);
    expect(manifest.header).toEqual({
      jobId: 'nightly',
      defaults: { method: 'POST', headers: { Accept: 'text/plain', 'x-team': 'a' }, timeoutMs: 2000 },
      limits: { inline: 4 },
      toleratedFailurePercent: 10,
    });
    const items = await collect(manifest);
    expect(items).toEqual([
      {
        index: 0,
        ok: true,
        task: {
          id: 'a',
          url: 'https://example.com/a',
          method: 'POST',
          headers: { Accept: 'text/plain', 'x-team': 'a' },
          timeoutMs: 2000,
          mode: 'queue',
        },
      },
      {
        index: 1,
        ok: true,
        task: {
          id: 'b',
          url: 'https://example.com/b',
          method: 'POST',
          headers: { 'x-team': 'a', accept: 'application/json' },
          timeoutMs: 2000,
          mode: 'inline',
        },
      },
      {
        index: 2,
        ok: true,
        task: {
          id: '7',
          url: 'https://example.com/c',
          method: 'GET',
          headers: { Accept: 'text/plain', 'x-team': 'a' },
          timeoutMs: 500,
          mode: 'queue',
        },
      },
    ]);
  });

  it('refuses a bad header with the path and the value', () => {
    const error = refusal(() => parseInlineManifest({ ...job, limits: { inline: -1 } }));
    expect(error.message).toBe('limits.inline: -1 is not a positive integer');
    expect(error.field).toBe('limits.inline');
    expect(error.code).toBe('BF_INVALID_MANIFEST');
  });

  it('names every header problem: unknown fields, a missing jobId, a bad percentage', () => {
    const error = refusal(() =>
      parseInlineManifest({ toleratedFailurePercent: 120, colour: 'red', defaults: { id: 'x' }, tasks: [] }),
    );
    const messages = error.issues.map((i) => i.message).sort();
    expect(messages).toEqual(
      [
        'colour: is not a known field',
        'defaults.id: is not a known field',
        'jobId: is required',
        'toleratedFailurePercent: 120 is not a percentage (0 to 100)',
      ].sort(),
    );
  });

  it('refuses tasks that are not an array, and a manifest that is not an object', () => {
    expect(refusal(() => parseInlineManifest({ jobId: 'j', tasks: 'x' })).message).toBe(
      'tasks: is not an array',
    );
    expect(refusal(() => parseInlineManifest({ jobId: 'j' })).message).toBe('tasks: is required');
    expect(refusal(() => parseInlineManifest(42)).message).toBe('manifest: 42 is not an object');
  });

  it('reports a bad task with its reason and goes on: never failing the job', async () => {
    const items = await collect(
      parseInlineManifest({
        jobId: 'j',
        tasks: [
          { id: 'ok', url: 'http://h/' },
          { id: 'bad-url', url: 'ftp://h/' },
          { id: 'bad-timeout', url: 'http://h/', timeoutMs: -5 },
          { id: 'unknown', url: 'http://h/', colour: 'red' },
          { url: 'http://h/' },
          { id: 'bad-header', url: 'http://h/', headers: { 'bad name': 'x', ok: 'a\r\nb' } },
          'not an object',
          { id: 'ok2', url: 'http://h/', method: 'FETCH' },
        ],
      }),
    );
    const errors = items.map((i) => (i.ok ? 'ok' : i.error));
    expect(errors).toEqual([
      'ok',
      'url: "ftp://h/" is not an http(s) URL',
      'timeoutMs: -5 is not a positive integer',
      'colour: is not a known field',
      'id: is required',
      'headers["bad name"]: "bad name" is not a valid header name; headers.ok: "a\\r\\nb" contains CR, LF or NUL',
      'task: "not an object" is not an object',
      'method: "FETCH" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
    ]);
    expect(items.map((i) => (i.ok ? i.task.id : i.id))).toEqual([
      'ok',
      'bad-url',
      'bad-timeout',
      'unknown',
      undefined,
      'bad-header',
      undefined,
      'ok2',
    ]);
  });

  it('refuses a duplicate id, naming the id and where it was first', async () => {
    const items = await collect(
      parseInlineManifest({
        jobId: 'j',
        tasks: [
          { id: 'a', url: 'http://h/1' },
          { id: 'b', url: 'http://h/2' },
          { id: 'a', url: 'http://h/3' },
        ],
      }),
    );
    expect(items[2]).toMatchObject({
      ok: false,
      id: 'a',
      error: 'id: "a" is a duplicate of the task at tasks[0]',
    });
    expect(items.filter((i) => i.ok)).toHaveLength(2);
  });

  it('refuses a 300 KiB body by name: a task must fit one SQS message', async () => {
    const body = 'x'.repeat(300 * 1024);
    const [item] = await collect(
      parseInlineManifest({ jobId: 'j', tasks: [{ id: 'big', url: 'http://h/', body }] }),
    );
    expect(item.ok).toBe(false);
    if (item.ok) return;
    expect(item.issues[0].path).toBe('body');
    expect(item.error).toMatch(
      new RegExp(
        `^body: 307200 bytes makes the task \\d+ bytes, over the ${MAX_TASK_BYTES}-byte limit of one task`,
      ),
    );
    // A body just under the limit is fine.
    const fits = 'x'.repeat(MAX_TASK_BYTES - 200);
    const [ok] = await collect(
      parseInlineManifest({ jobId: 'j', tasks: [{ id: 'fits', url: 'http://h/', body: fits }] }),
    );
    expect(ok.ok).toBe(true);
  });
});

const ndjson = [
  '\uFEFF{"jobId":"nd","defaults":{"mode":"inline"},"limits":{"tasksPerMessage":5}}',
  '{"id":"1","url":"http://h/1"}',
  '',
  '   ',
  '{"id":"2","url":"http://h/2","mode":"queue"}\r',
  'not json',
  '{"id":"1","url":"http://h/3"}',
  '{"id":"3","url":"http://h/4"}',
].join('\n');

describe('NDJSON manifests, read as a stream', () => {
  it('reads the header line, skips blank lines and reports bad lines by number, whatever the chunking', async () => {
    const expected = [
      { index: 0, line: 2, ok: true, task: { id: '1', url: 'http://h/1', mode: 'inline' } },
      { index: 1, line: 5, ok: true, task: { id: '2', url: 'http://h/2', mode: 'queue' } },
      { index: 2, line: 6, ok: false },
      { index: 3, line: 7, ok: false, id: '1', error: 'id: "1" is a duplicate of the task at line 2' },
      { index: 4, line: 8, ok: true, task: { id: '3', url: 'http://h/4', mode: 'inline' } },
    ];
    for (const size of [1, 2, 3, 7, 64, 10_000]) {
      const manifest = await parseManifestStream(
        chunked(ndjson, size).map((s) => Buffer.from(s)),
        { format: 'ndjson' },
      );
      expect(manifest.format).toBe('ndjson');
      expect(manifest.header).toEqual({
        jobId: 'nd',
        defaults: { mode: 'inline' },
        limits: { tasksPerMessage: 5 },
      });
      const items = await collect(manifest);
      expect(items).toMatchObject(expected);
      const bad = items[2];
      expect(!bad.ok && bad.error).toMatch(/^task: is not valid JSON \(/);
    }
  });

  it('tells NDJSON from JSON by itself', async () => {
    const nd = await parseManifestStream([ndjson]);
    expect(nd.format).toBe('ndjson');
    const json = await parseManifestStream([JSON.stringify(job, null, 2)]);
    expect(json.format).toBe('json');
    const oneLine = await parseManifestStream([JSON.stringify(job)]);
    expect(oneLine.format).toBe('json');
  });

  it('takes the job id from the event or the default when the file has no header line', async () => {
    const lines = '{"id":"1","url":"http://h/1"}\n';
    const manifest = await parseManifestStream([lines], {
      defaultJobId: 'from-key',
      overrides: { runId: 'r1' },
    });
    expect(manifest.header).toEqual({ jobId: 'from-key', runId: 'r1' });
    expect(await collect(manifest)).toHaveLength(1);
    const error = await refusalAsync(() => parseManifestStream([lines]));
    expect(error.message).toBe('jobId: is required');
  });

  it('skips a line over the cap without buffering it', async () => {
    const long = `{"id":"x","url":"http://h/","body":"${'y'.repeat(5000)}"}`;
    const text = `{"jobId":"j"}\n${long}\n{"id":"z","url":"http://h/"}\n`;
    const manifest = await parseManifestStream(chunked(text, 100), { maxTaskLineBytes: 1024 });
    const items = await collect(manifest);
    expect(items[0]).toMatchObject({
      ok: false,
      line: 2,
      error: `task: is ${long.length} bytes, over the 1024-byte limit of one task`,
    });
    expect(items[1]).toMatchObject({ ok: true, line: 3 });
  });

  it('pulls the stream lazily: the header costs the first chunk only', async () => {
    let pulled = 0;
    const source = (function* () {
      yield '{"jobId":"lazy"}\n';
      for (let i = 0; i < 100_000; i++) {
        pulled++;
        yield `{"id":"t${i}","url":"http://h/${i}"}\n`;
      }
    })();
    const manifest = await parseManifestStream(source, { format: 'ndjson' });
    expect(pulled).toBeLessThanOrEqual(1);
    let seen = 0;
    for await (const item of manifest.items) {
      if (!item.ok) throw new Error(item.error);
      if (++seen === 10) break;
    }
    expect(pulled).toBeLessThanOrEqual(11);
  });
});

describe('JSON manifests, read as a stream', () => {
  it('streams the same tasks as the inline form, whatever the chunking', async () => {
    const inline = await collect(parseInlineManifest(job));
    const text = JSON.stringify(job, null, 2);
    for (const size of [1, 5, 33, 100_000]) {
      const manifest = await parseManifestStream(chunked(text, size), { format: 'json' });
      expect(manifest.header).toEqual(parseInlineManifest(job).header);
      const items = await collect(manifest);
      expect(items.map(({ line: _line, ...rest }) => rest)).toEqual(inline);
      expect(items.map((i) => i.line)).toEqual([16, 20, 28]);
    }
  });

  it('keeps strings with brackets, commas and escaped quotes whole', async () => {
    const tasks = [{ id: 'a,]}"\\', url: 'http://h/?q=[1,2]', body: '{"nested":["]",",","\\""]}' }];
    const manifest = await parseManifestStream(chunked(JSON.stringify({ jobId: 'j', tasks }), 3), {
      format: 'json',
    });
    const items = await collect(manifest);
    expect(items).toEqual([{ index: 0, line: 1, ok: true, task: { ...tasks[0], mode: 'queue' } }]);
  });

  it('names what is wrong with the document', async () => {
    const cases: [string, string][] = [
      [
        '{"jobId":"j","tasks":[{"id":"a","url":"http://h/"}',
        'manifest: is not valid JSON at the end: expected more input: the manifest ends early',
      ],
      ['{"jobId":"j"}', 'tasks: is required'],
      ['{"jobId":"j","tasks":5}', 'tasks: is not an array'],
      ['[1,2]', 'manifest: is not valid JSON at line 1: expected a JSON object starting with "{"'],
      [
        '{"jobId":"j","tasks":[]} trailing',
        'manifest: is not valid JSON at line 1: expected the end of the manifest after its closing "}"',
      ],
      ['{"tasks":[],"jobId":"j"}', 'jobId: is required before "tasks" (a JSON manifest is read as a stream)'],
      [
        '{"jobId":"j","tasks":[],"limits":{}}',
        'limits: must come before "tasks" in a JSON manifest (it is read as a stream)',
      ],
      ['{"jobId":"j","tasks":[],"colour":1}', 'colour: is not a known field'],
      ['{"jobId":"j","limits":{"inline":0},"tasks":[]}', 'limits.inline: 0 is not a positive integer'],
    ];
    for (const [text, message] of cases) {
      const error = await refusalAsync(async () =>
        collect(await parseManifestStream([text], { format: 'json' })),
      );
      expect(error.message).toBe(message);
    }
  });

  it('reports a task that is not valid JSON and goes on', async () => {
    const text =
      '{"jobId":"j","tasks":[{"id":"a","url":"http://h/"}, {"id": nope}, {"id":"b","url":"http://h/"}]}';
    const items = await collect(await parseManifestStream([text], { format: 'json' }));
    expect(items.map((i) => i.ok)).toEqual([true, false, true]);
    expect(items[1]).toMatchObject({ index: 1, error: expect.stringMatching(/^task: is not valid JSON/) });
  });
});
