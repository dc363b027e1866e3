import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeenIds } from '../../../lib/manifest/seen-ids.js';

describe('SeenIds', () => {
  it('returns undefined for a new id and the first position for a seen one, never the later one', () => {
    const seen = new SeenIds();
    expect(seen.firstOrAdd('a', 2)).toBeUndefined();
    expect(seen.firstOrAdd('b', 3)).toBeUndefined();
    expect(seen.firstOrAdd('a', 4)).toBe(2);
    expect(seen.firstOrAdd('a', 5)).toBe(2);
    expect(seen.firstOrAdd('b', 6)).toBe(3);
    expect(seen.size).toBe(2);
  });

  it('tells apart ids that differ only in a code unit above 0x7f, lone surrogates included', () => {
    const ids = [
      '\u00e9',
      '\u10e9',
      '\u20e9',
      '\u00c9',
      '\u0fe9',
      '\ud800',
      '\udc00',
      '\ud83d\ude00',
      'a\u0080',
      'a',
    ];
    const seen = new SeenIds();
    expect(ids.map((id, i) => seen.firstOrAdd(id, i))).toEqual(ids.map(() => undefined));
    expect(ids.map((id, i) => seen.firstOrAdd(id, 100 + i))).toEqual(ids.map((_, i) => i));
    expect(seen.size).toBe(ids.length);
  });

  it('keeps positions beyond 32 bits and the empty id', () => {
    const seen = new SeenIds();
    expect(seen.firstOrAdd('a', 7)).toBeUndefined();
    expect(seen.firstOrAdd('', 2 ** 32 + 3)).toBeUndefined();
    expect(seen.firstOrAdd('', 1)).toBe(2 ** 32 + 3);
    expect(seen.firstOrAdd('a', 1)).toBe(7);
  });

  // Found by search: the two ids have the same 32-bit hash in SeenIds, so a match on the hash alone fails here.
  it('tells apart two ids whose hashes are equal', () => {
    const seen = new SeenIds();
    expect(seen.firstOrAdd('id-149599', 1)).toBeUndefined();
    expect(seen.firstOrAdd('id-312382', 2)).toBeUndefined();
    expect(seen.firstOrAdd('id-312382', 3)).toBe(2);
  });

  // Long ids (300 code units, some above 0x7f) grow the byte arena past its first sizes too.
  it('reports none of 320,000 distinct ids as seen, then every one of them at its own position', () => {
    const seen = new SeenIds();
    const id = (i: number) => (i % 1000 === 0 ? `\u00e9${'x'.repeat(300)}${i}` : `id-${i}`);
    for (let i = 0; i < 320_000; i++) if (seen.firstOrAdd(id(i), i) !== undefined) throw new Error(id(i));
    expect(seen.size).toBe(320_000);
    for (let i = 0; i < 320_000; i++) if (seen.firstOrAdd(id(i), -1) !== i) throw new Error(id(i));
    expect(seen.size).toBe(320_000);
  });

  it('agrees with a Map on any sequence of ids drawn from a few code units', () => {
    const unit = fc.constantFrom(0x61, 0x62, 0x7f, 0x80, 0xe9, 0x10e9, 0xd800, 0xdc00, 0xffff);
    const idArb = fc.array(unit, { maxLength: 4 }).map((units) => String.fromCharCode(...units));
    fc.assert(
      fc.property(fc.array(idArb, { maxLength: 400 }), (ids) => {
        const seen = new SeenIds();
        const model = new Map<string, number>();
        ids.forEach((id, i) => {
          expect(seen.firstOrAdd(id, i)).toBe(model.get(id));
          if (!model.has(id)) model.set(id, i);
        });
        expect(seen.size).toBe(model.size);
      }),
    );
  });
});
