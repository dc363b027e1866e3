import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_SET_HEADERS,
  checkTask,
  ManifestError,
  type ManifestIssue,
  parseInlineManifest,
  parseJobHeader,
  parseManifestStream,
  renderPath,
} from '../../../lib/manifest/index.js';
import { RUNS } from '../../helpers/runs.js';

// Fuzzing the manifest parser: whatever comes in, no crash, and every error names a field: a non-empty
// path, and a message that starts with that path.

function expectNamed(issues: readonly ManifestIssue[]): void {
  expect(issues.length).toBeGreaterThan(0);
  for (const issue of issues) {
    expect(issue.path.length).toBeGreaterThan(0);
    expect(issue.message.startsWith(`${issue.path}: `)).toBe(true);
    expect(issue.message.length).toBeGreaterThan(issue.path.length + 2);
  }
}

async function drain(run: () => Promise<AsyncIterable<unknown>> | AsyncIterable<unknown>): Promise<void> {
  try {
    const items = await run();
    for await (const item of items as AsyncIterable<{
      ok: boolean;
      issues?: ManifestIssue[];
      error?: string;
    }>) {
      if (!item.ok) {
        expectNamed(item.issues ?? []);
        expect(item.error).toBe((item.issues ?? []).map((i) => i.message).join('; '));
      }
    }
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    expectNamed(error.issues);
    expect(error.message.startsWith(`${error.field}: `)).toBe(true);
  }
}

/** Values that are sometimes right for a field and often wrong. */
const fieldValue = fc.oneof(
  fc.anything(),
  fc.string(),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.constantFrom(
    'GET',
    'post',
    'inline',
    'queue',
    'invoke',
    'http://h/x',
    'https://example.com/',
    'ftp://x',
  ),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer())),
  fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 3 }),
);

const taskLike = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 12 }), fc.nat(), fieldValue),
    url: fc.oneof(fc.webUrl(), fieldValue),
    method: fieldValue,
    headers: fieldValue,
    body: fieldValue,
    timeoutMs: fieldValue,
    mode: fieldValue,
    retryNonIdempotent: fc.oneof(fc.boolean(), fieldValue),
    expectStatus: fieldValue,
    extra: fieldValue,
  },
  { requiredKeys: [] },
);

const headerLike = fc.record(
  {
    jobId: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), fieldValue),
    runId: fieldValue,
    defaults: fc.oneof(taskLike, fieldValue),
    limits: fc.oneof(
      fc.dictionary(fc.constantFrom('inline', 'enqueue', 'invoke', 'tasksPerMessage', 'other'), fieldValue),
      fieldValue,
    ),
    toleratedFailurePercent: fc.oneof(fc.double(), fieldValue),
  },
  { requiredKeys: [] },
);

/** A header the HTTP client refuses: a name it sets itself (any case), or a value with a character it cannot send. */
const refusedHeader = fc.oneof(
  fc
    .tuple(fc.constantFrom(...CLIENT_SET_HEADERS), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }))
    .map(([name, upper]) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''))
    .chain((name) => fc.tuple(fc.constant(name), fc.string({ maxLength: 6 }))),
  fc.tuple(
    fc
      .stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,10}$/)
      .filter((n) => !CLIENT_SET_HEADERS.includes(n.toLowerCase())),
    fc
      .tuple(
        fc.string({ maxLength: 4 }),
        fc.oneof(
          fc.integer({ min: 1, max: 0x08 }),
          fc.integer({ min: 0x0b, max: 0x1f }),
          fc.constant(0x7f),
          fc.integer({ min: 0x100, max: 0x10ffff }),
        ),
        fc.string({ maxLength: 4 }),
      )
      .filter(([, c]) => c !== 0x0d && (c < 0xd800 || c > 0xdfff))
      .map(([a, c, b]) => a + String.fromCodePoint(c) + b),
  ),
);

/** Byte sequences that are not UTF-8: stray continuation, truncated, overlong, surrogate, above U+10FFFF. */
const badUtf8 = fc.constantFrom(
  [0x80],
  [0xff],
  [0xfe],
  [0xc3],
  [0xe2, 0x82],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf0, 0x9f, 0x98],
);

/** A task line, and whether bad bytes were put in its URL; chunked anywhere. */
const utf8Case = fc.record({
  lines: fc.array(fc.tuple(fc.boolean(), badUtf8, fc.string({ maxLength: 6 })), {
    minLength: 1,
    maxLength: 8,
  }),
  json: fc.boolean(),
  size: fc.integer({ min: 1, max: 64 }),
});

describe('manifest parser fuzzing', () => {
  it('never decodes bytes that are not UTF-8 into a task: exactly the tasks holding them are invalid', async () => {
    await fc.assert(
      fc.asyncProperty(utf8Case, async ({ lines, json, size }) => {
        const pieces = lines.map(([bad, seq, tail], i) => {
          const url = Buffer.from(`http://127.0.0.1/${i}/${encodeURIComponent(tail)}`);
          return Buffer.concat([
            Buffer.from(`{"id":"t${i}","url":"`),
            bad ? Buffer.concat([url, Buffer.from(seq)]) : url,
            Buffer.from('"}'),
          ]);
        });
        const sep = Buffer.from(json ? ',\n' : '\n');
        const body = Buffer.concat(pieces.flatMap((p, i) => (i === 0 ? [p] : [sep, p])));
        const doc = json
          ? Buffer.concat([Buffer.from('{"jobId":"j","tasks":[\n'), body, Buffer.from(']}')])
          : Buffer.concat([Buffer.from('{"jobId":"j"}\n'), body]);
        const chunks: Buffer[] = [];
        for (let i = 0; i < doc.length; i += size) chunks.push(doc.subarray(i, i + size));
        const manifest = await parseManifestStream(chunks, { format: json ? 'json' : 'ndjson' });
        const invalid: string[] = [];
        const valid: string[] = [];
        for await (const item of manifest.items) {
          if (item.ok) {
            expect(JSON.stringify(item.task)).not.toContain('\uFFFD');
            valid.push(item.task.id);
          } else {
            expect(item.error).toMatch(/^task: is not valid UTF-8 \(0x[0-9A-F]{2} at byte \d+\)$/);
            invalid.push(String(item.line));
          }
        }
        expect(valid).toEqual(lines.flatMap(([bad], i) => (bad ? [] : [`t${i}`])));
        expect(invalid).toEqual(lines.flatMap(([bad], i) => (bad ? [String(2 + i)] : [])));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses any header the client would refuse, in a task or in defaults, naming headers.NAME', () => {
    fc.assert(
      fc.property(refusedHeader, fc.boolean(), ([name, value], inDefaults) => {
        const headers = { [name]: value };
        if (inDefaults) {
          let error: unknown;
          try {
            parseJobHeader({ jobId: 'j', defaults: { headers } });
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(ManifestError);
          expect((error as ManifestError).issues.map((i) => i.path)).toContain(
            renderPath(['defaults', 'headers', name], 'manifest'),
          );
          return;
        }
        const checked = checkTask({ id: 't', url: 'http://127.0.0.1/', headers }, undefined);
        expect(checked.ok).toBe(false);
        if (!checked.ok) {
          expectNamed(checked.issues);
          expect(checked.issues.map((i) => i.path)).toContain(renderPath(['headers', name], 'task'));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('checks any task-like value without crashing, naming the field of each problem', () => {
    fc.assert(
      fc.property(taskLike, fc.option(taskLike, { nil: undefined }), (raw, defaults) => {
        const checked = checkTask(raw, defaults as never);
        if (checked.ok) {
          expect(typeof checked.task.id).toBe('string');
          expect(['inline', 'queue', 'invoke']).toContain(checked.task.mode);
        } else expectNamed(checked.issues);
      }),
      { numRuns: RUNS },
    );
  });

  it('parses any inline event: a named ManifestError or items whose errors are named', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          headerLike.map((h) => ({ ...h })),
          fc
            .tuple(headerLike, fc.array(fc.oneof(taskLike, fc.anything()), { maxLength: 6 }))
            .map(([h, tasks]) => ({ ...h, tasks })),
        ),
        async (event) => drain(() => parseInlineManifest(event).items),
      ),
      { numRuns: RUNS },
    );
  });

  it('streams any text as JSON, NDJSON or auto, chunked anywhere: a named error or named item errors', async () => {
    const docText = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc
        .tuple(headerLike, fc.array(fc.oneof(taskLike, fc.anything()), { maxLength: 5 }))
        .map(([h, tasks]) => JSON.stringify({ ...h, tasks }) ?? ''),
      fc
        .array(fc.oneof(headerLike, taskLike, fc.anything()), { maxLength: 6 })
        .map((lines) => lines.map((l) => JSON.stringify(l) ?? 'undefined').join('\n')),
    );
    // Break valid-looking text at random places, by removing or inserting structural characters.
    const mutated = fc
      .tuple(docText, fc.nat(), fc.constantFrom('', '{', '}', '[', ']', '"', ',', '\n', '\\', ':'))
      .map(([text, at, ch]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        return ch === '' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + ch + text.slice(i);
      });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(docText, mutated),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom('json' as const, 'ndjson' as const, 'auto' as const),
        async (text, size, format) => {
          const chunks: Buffer[] = [];
          const bytes = Buffer.from(text);
          for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
          await drain(
            async () => (await parseManifestStream(chunks, { format, maxTaskLineBytes: 256 })).items,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});
