// local/settled-open.ts reads a journaled body's key without parsing the body. A key read wrong either way
// matters: one missed sends a settled message back for its follow-ups (harmless), one read from a task's
// content could close a message whose follow-up never went out (a task lost). So: for any envelope and tasks,
// their strings holding `"key":"...` or `"tasks":` included, the key read from the body the run's own encoder
// makes is the envelope's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessage, MESSAGE_VERSION, MessageKinds } from '../../lib/fanout/messages.js';
import { wireJson } from '../../lib/wire/wire-json.js';
import { keyOfBody } from '../../local/settled-open.js';

// Strings that look like the fields the reader looks for, among any others.
const tricky = fc.oneof(
  fc.string(),
  fc.constantFrom('"key":"x"', '"tasks":[', '\\"key\\":\\"', '"', '\\', 'ключ', '\u2028'),
  fc.tuple(fc.string(), fc.constantFrom('"key":"', '"tasks":')).map(([a, b]) => `${a}${b}${a}`),
);

const task = fc.record({
  id: tricky,
  url: tricky,
  mode: fc.constant('queue'),
  headers: fc.option(fc.dictionary(fc.constantFrom('key', 'tasks', 'x-key'), tricky), { nil: undefined }),
  body: fc.option(tricky, { nil: undefined }),
});

describe('keyOfBody', () => {
  it("reads the envelope's key of any encoded task message, whatever its strings and tasks hold", () => {
    fc.assert(
      fc.property(
        tricky,
        tricky,
        tricky,
        fc.integer({ min: 1, max: 20 }),
        fc.option(fc.record({ segment: fc.nat(), id: fc.stringMatching(/^[0-9a-f]{1,12}$/) }), {
          nil: undefined,
        }),
        fc.array(task, { maxLength: 4 }),
        (jobId, runId, key, attempt, copy, tasks) => {
          const envelope = {
            v: MESSAGE_VERSION,
            kind: MessageKinds.TASKS,
            jobId,
            runId,
            key,
            attempt,
            ...(copy ? { copy } : {}),
          };
          const body = encodeMessage(
            envelope,
            tasks.map((t) => wireJson(t)),
          );
          expect(keyOfBody(body)).toBe(key);
        },
      ),
    );
  });

  it('reads no key from a body with none before its tasks', () => {
    expect(keyOfBody('{"v":1,"tasks":[{"headers":{"key":"k"}}]}')).toBeUndefined();
    expect(keyOfBody('not json')).toBeUndefined();
  });
});
