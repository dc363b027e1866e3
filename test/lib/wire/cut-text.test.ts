// cutText: a shortened text is a prefix of the text, at most `max` units before its mark, never ending in half
// of a surrogate pair; a text that fits is kept whole. The dead letter's error (lib/fanout/messages.ts) cut
// across an emoji keeps the whole emoji or none of it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deadLetterTask } from '../../../lib/fanout/messages.js';
import { cutText } from '../../../lib/wire/cut-text.js';
import { MAX_ERROR_CHARS } from '../../../lib/wire/sqs-limits.js';
import { RUNS } from '../../helpers/runs.js';

const endsInHalf = (s: string) => /[\ud800-\udbff]$/.test(s);

describe('cutText', () => {
  it('keeps a prefix of at most max units, one less only to keep a pair whole, never a lone half at its end', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.integer({ min: 1, max: 60 }),
        (text, max) => {
          const cut = cutText(text, max);
          expect(text.startsWith(cut)).toBe(true);
          if (text.length <= max) expect(cut).toBe(text);
          else {
            expect(cut.length === max || cut.length === max - 1).toBe(true);
            expect(endsInHalf(cut)).toBe(false);
            if (!endsInHalf(text.slice(0, max))) expect(cut.length).toBe(max);
          }
          expect(cutText(text, max, '…')).toBe(text.length <= max ? text : `${cut}…`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a dead letter’s error cut across an emoji keeps the emoji whole or leaves it out', () => {
    const error = `${'x'.repeat(MAX_ERROR_CHARS - 1)}😀 more`;
    const dead = deadLetterTask({ id: 'a', url: 'http://127.0.0.1/' } as never, 1, error);
    expect(dead.error).toBe(`${'x'.repeat(MAX_ERROR_CHARS - 1)}…`);
    expect(endsInHalf(dead.error.slice(0, -1))).toBe(false);
  });
});
