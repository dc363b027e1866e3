import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWireSafe, toWireJson, wireJson } from '../../../lib/wire/wire-json.js';
import { poisonString } from '../../helpers/poison.js';
import { RUNS } from '../../helpers/runs.js';

// SQS's character set for a message body, and fauxqs's (it refuses astral characters too).
const SQS_REFUSES = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const FAUXQS_REFUSES = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/;

describe('toWireJson', () => {
  it('escapes exactly the units SQS or fauxqs refuse, and JSON.parse reads back the same string', () => {
    expect(toWireJson(JSON.stringify('a\uFFFEb\uFFFFc'))).toBe('"a\\ufffeb\\uffffc"');
    expect(toWireJson(JSON.stringify('x\u{1F600}y'))).toBe('"x\\ud83d\\ude00y"');
    // JSON.stringify escapes lone surrogates and control characters itself; raw ones are escaped here.
    expect(toWireJson(JSON.stringify('\uD800'))).toBe('"\\ud800"');
    expect(toWireJson('"\u0001\u001f"')).toBe('"\\u0001\\u001f"');
    expect(JSON.parse(toWireJson('"\u0001\u001f"'))).toBe('\u0001\u001f');
    // What SQS takes stays as it is: tab, LF, CR, DEL, Latin-1, the BMP above the surrogates.
    const kept = '"\t\n\r\u007fé\u2028\uE000\uFFFD"';
    expect(toWireJson(kept)).toBe(kept);
  });

  it('returns plain text itself, no copy', () => {
    const json = JSON.stringify({ id: 't1', url: 'http://127.0.0.1/x', body: 'plain ascii and é' });
    expect(toWireJson(json)).toBe(json);
    expect(isWireSafe(json)).toBe(true);
  });

  it('property: any JSON value with any UTF-16 units round-trips exactly, and neither SQS nor fauxqs refuses it', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        poisonString(),
        fc.integer(),
        fc.boolean(),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(poisonString(6), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const wire = wireJson(v);
        expect(JSON.parse(wire)).toEqual(v);
        expect(SQS_REFUSES.test(wire)).toBe(false);
        expect(FAUXQS_REFUSES.test(wire)).toBe(false);
        expect(isWireSafe(wire)).toBe(true);
        // Nothing escaped that did not need it.
        if (!FAUXQS_REFUSES.test(JSON.stringify(v))) expect(wire).toBe(JSON.stringify(v));
      }),
      { numRuns: RUNS },
    );
  });
});
