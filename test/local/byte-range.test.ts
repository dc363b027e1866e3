// The Range header of a GetObject (local/byte-range.ts), as properties over any object size and any range of
// each form: the bytes answered are exactly the ones asked for that exist, never past the end, and a range
// that starts past the end (or a suffix of 0, or any range of an empty object) is unsatisfiable.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteRangeOf } from '../../local/byte-range.js';

const size = fc.integer({ min: 0, max: 10_000 });
const offset = fc.integer({ min: 0, max: 20_000 });

describe('byteRangeOf', () => {
  it('bytes=a-b: a..min(b, size-1); unsatisfiable from a >= size; ignored (whole) when b < a', () => {
    fc.assert(
      fc.property(size, offset, offset, (n, a, b) => {
        const range = byteRangeOf(`bytes=${a}-${b}`, n);
        if (b < a) expect(range).toEqual({ kind: 'whole' });
        else if (a >= n) expect(range).toEqual({ kind: 'unsatisfiable' });
        else expect(range).toEqual({ kind: 'range', start: a, end: Math.min(b, n - 1) });
      }),
    );
  });

  it('bytes=a-: from a to the last byte; unsatisfiable from a >= size (bytes=SIZE- included)', () => {
    fc.assert(
      fc.property(size, offset, (n, a) => {
        const range = byteRangeOf(`bytes=${a}-`, n);
        expect(range).toEqual(a >= n ? { kind: 'unsatisfiable' } : { kind: 'range', start: a, end: n - 1 });
      }),
    );
  });

  it('bytes=-k: the last min(k, size) bytes; unsatisfiable for k = 0 or an empty object', () => {
    fc.assert(
      fc.property(size, offset, (n, k) => {
        const range = byteRangeOf(`bytes=-${k}`, n);
        if (k === 0 || n === 0) expect(range).toEqual({ kind: 'unsatisfiable' });
        else expect(range).toEqual({ kind: 'range', start: n - Math.min(k, n), end: n - 1 });
      }),
    );
  });

  it.each([undefined, '', 'bytes=-', 'bytes=0-1,4-5', 'items=0-1', 'bytes=a-b', 'bytes 0-1'])(
    '%j is not one byte range: the whole object',
    (header) => {
      expect(byteRangeOf(header, 100)).toEqual({ kind: 'whole' });
    },
  );
});
