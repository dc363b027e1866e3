// The queue journal of `run --state DIR` (local/queue-journal.ts) as killed processes leave it: a property over
// random runs of sends, settles and kills, some inside a write (the journal ends in a line's first bytes): what a
// resume reads open is what was sent and never settled, whatever the torn lines; and a journal that is not one
// (JSON of another shape, a line of many megabytes) is refused, naming the line, not read as an empty queue; one
// longer than a string can be is read all the same.
import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES } from '../../local/journal-lines.js';
import { JOURNAL_FILE, QueueJournal } from '../../local/queue-journal.js';

const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'queue-journal-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

type Op =
  | { readonly kind: 'sent'; readonly id: string; readonly body: string }
  | { readonly kind: 'settled'; readonly ids: readonly string[] }
  /** The process dies; with `torn`, inside the write of a line whose first bytes are these. */
  | { readonly kind: 'kill'; readonly torn?: string };

const id = fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5');
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('sent' as const), id, body: fc.string({ maxLength: 20 }) }),
  fc.record({ kind: fc.constant('settled' as const), ids: fc.array(id, { maxLength: 3 }) }),
  fc.record(
    { kind: fc.constant('kill' as const), torn: fc.constantFrom('{', '{"s":"m9","b":"x', '{"d":["m1",') },
    { requiredKeys: ['kind'] },
  ),
);

describe('QueueJournal', () => {
  it('reads open what was sent and never settled, across kills inside a write', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const dir = fresh();
        let journal = new QueueJournal(dir);
        const open = new Map<string, string>();
        for (const o of ops) {
          if (o.kind === 'sent') {
            journal.sent(o.id, o.body);
            open.set(o.id, o.body); // sent again under its id: the body it has now, its place kept
          } else if (o.kind === 'settled') {
            journal.settled(o.ids);
            for (const i of o.ids) open.delete(i);
          } else {
            if (o.torn !== undefined) appendFileSync(join(dir, JOURNAL_FILE), o.torn);
            journal = new QueueJournal(dir);
          }
        }
        expect(journal.read().open).toEqual([...open].map(([i, body]) => ({ id: i, body })));
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 200) },
    );
  });

  it.each([
    ['null', 'null'],
    ['a number', '5'],
    ['settled ids that are no list', '{"d":null}'],
    ['a sent message with no body', '{"s":"m1"}'],
    ['a sent message due at no time', '{"s":"m1","b":"x","v":"soon"}'],
    ['an orchestrator result with no request id', '{"o":{}}'],
    ['a list', '[]'],
  ])('refuses a line of JSON that is no journal line: %s', (_, line) => {
    const dir = fresh();
    writeFileSync(join(dir, JOURNAL_FILE), `{"s":"m1","b":"x"}\n${line}\n`);
    expect(() => new QueueJournal(dir).read()).toThrow(
      `${join(dir, JOURNAL_FILE)}: line 2 is not a journal line ({ s, b } a message sent, { d } ids settled, { f } the orchestrator's start, { o } its result, { a } a continuation accepted, { c } its end): ${line}`,
    );
  });

  it("keeps the first segment's request id, every task message's key and the continuations never ended", () => {
    const dir = fresh();
    const journal = new QueueJournal(dir);
    const body = (seq: number) => JSON.stringify({ v: 1, kind: 'tasks', key: `j:r:${seq}`, tasks: [] });
    journal.started('req-1');
    journal.sent('m1', body(0));
    journal.sent('m2', body(1));
    journal.sent('m3', 'no task message');
    journal.settled(['m1']);
    const left = new QueueJournal(dir).read();
    expect({ started: left.started, first: left.first, keys: [...left.keys] }).toEqual({
      started: 'req-1',
      first: undefined,
      keys: ['j:r:0', 'j:r:1'],
    });
    expect(left.open.map((m) => m.id)).toEqual(['m2', 'm3']);
    // Continuations accepted: one ended, one not (held by a stop, or killed running), accepted twice.
    const record = {
      functionName: 'o',
      requestId: 'c1',
      attempts: 1,
      status: 'succeeded',
      delivery: 1,
    } as const;
    journal.accepted('c1', { continuation: { segment: 1 } });
    journal.accepted('c2', { continuation: { segment: 2 } });
    journal.continuation(record);
    journal.accepted('c2', { continuation: { segment: 2 } });
    expect(new QueueJournal(dir).read().unended).toEqual([
      { requestId: 'c2', payload: { continuation: { segment: 2 } } },
    ]);
    new QueueJournal(dir).orchestrator({ requestId: 'req-1', result: { status: 'succeeded' } });
    expect(new QueueJournal(dir).read()).toMatchObject({ started: 'req-1', first: { requestId: 'req-1' } });
  });

  it('refuses a line longer than any message, naming it', () => {
    const dir = fresh();
    writeFileSync(
      join(dir, JOURNAL_FILE),
      `{"s":"m1","b":"x"}\n{"s":"m2","b":"${'x'.repeat(MAX_LINE_BYTES)}"}\n`,
    );
    expect(() => new QueueJournal(dir).read()).toThrow(
      `${join(dir, JOURNAL_FILE)}: line 2 is longer than ${MAX_LINE_BYTES} bytes: not a journal line (is the state directory's journal corrupted?)`,
    );
  });

  it('reads a journal longer than the longest string V8 makes (512 MiB)', () => {
    const dir = fresh();
    const file = join(dir, JOURNAL_FILE);
    // Messages of 200 KB each sent and settled: 540 MiB of journal, one message open at its end.
    const body = JSON.stringify({ tasks: 'x'.repeat(200_000) });
    const pairs = Array.from({ length: 40 }, (_, i) => [
      JSON.stringify({ s: `m${i}`, b: body }),
      JSON.stringify({ d: [`m${i}`] }),
    ]);
    const block = Buffer.from(`${pairs.flat().join('\n')}\n`);
    const fd = openSync(file, 'w');
    try {
      for (let size = 0; size <= 540 * 2 ** 20; size += block.length) writeSync(fd, block);
      writeSync(fd, `${JSON.stringify({ s: 'last', b: 'open' })}\n`);
    } finally {
      closeSync(fd);
    }
    expect(new QueueJournal(dir).read().open).toEqual([{ id: 'last', body: 'open' }]);
    rmSync(file);
  }, 60_000);
});
