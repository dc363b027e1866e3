// The allow/refuse entry parser on its own: the exact entry each accepted form gives (kind, address, bits,
// port, and no port key when none was given), and the exact error for each refused form.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALLOW_ENTRY_FORMS,
  type AllowEntry,
  normaliseHost,
  parseAddress,
  parseAllowEntry,
} from '../../../lib/http/allow-entry.js';
import { RUNS } from '../../helpers/runs.js';

/** An entry as plain data: the address as a string, the port key only when the entry has one. */
function plain(entry: AllowEntry): Record<string, unknown> {
  if (entry.kind !== 'range') return { ...entry };
  return { ...entry, ip: `${entry.ip.kind()} ${entry.ip.toString()}` };
}

describe('parseAllowEntry: accepted forms', () => {
  const accepted: Array<[string, Record<string, unknown>]> = [
    ['api.example.com', { kind: 'name', name: 'api.example.com' }],
    ['  Api.Example.COM.  ', { kind: 'name', name: 'api.example.com' }],
    ['api.example.com:8443', { kind: 'name', name: 'api.example.com', port: 8443 }],
    ['*.Example.com', { kind: 'suffix', suffix: '.example.com' }],
    ['*.example.com:443', { kind: 'suffix', suffix: '.example.com', port: 443 }],
    ['localhost', { kind: 'name', name: 'localhost' }],
    ['my_host-1.test', { kind: 'name', name: 'my_host-1.test' }],
    ['10.1.2.3', { kind: 'range', ip: 'ipv4 10.1.2.3', bits: 32 }],
    ['127.0.0.1:8080', { kind: 'range', ip: 'ipv4 127.0.0.1', bits: 32, port: 8080 }],
    ['127.0.0.1:1', { kind: 'range', ip: 'ipv4 127.0.0.1', bits: 32, port: 1 }],
    ['127.0.0.1:65535', { kind: 'range', ip: 'ipv4 127.0.0.1', bits: 32, port: 65535 }],
    ['fd00::1', { kind: 'range', ip: 'ipv6 fd00::1', bits: 128 }],
    ['::1', { kind: 'range', ip: 'ipv6 ::1', bits: 128 }],
    ['[::1]', { kind: 'range', ip: 'ipv6 ::1', bits: 128 }],
    ['[::1]:8080', { kind: 'range', ip: 'ipv6 ::1', bits: 128, port: 8080 }],
    ['::ffff:127.0.0.1', { kind: 'range', ip: 'ipv4 127.0.0.1', bits: 32 }],
    ['[::ffff:10.0.0.1]:443', { kind: 'range', ip: 'ipv4 10.0.0.1', bits: 32, port: 443 }],
    ['10.0.0.0/8', { kind: 'range', ip: 'ipv4 10.0.0.0', bits: 8 }],
    ['10.0.0.0/8:443', { kind: 'range', ip: 'ipv4 10.0.0.0', bits: 8, port: 443 }],
    ['127.0.0.0/8:4566', { kind: 'range', ip: 'ipv4 127.0.0.0', bits: 8, port: 4566 }],
    ['fd00::/8', { kind: 'range', ip: 'ipv6 fd00::', bits: 8 }],
    ['[fd00::/8]', { kind: 'range', ip: 'ipv6 fd00::', bits: 8 }],
    ['[fd00::/8]:443', { kind: 'range', ip: 'ipv6 fd00::', bits: 8, port: 443 }],
    // An IPv4-mapped CIDR is the IPv4 range it carries; one wider than ::ffff:0:0/96 stays IPv6.
    ['::ffff:127.0.0.0/104', { kind: 'range', ip: 'ipv4 127.0.0.0', bits: 8 }],
    ['::ffff:10.0.0.0/96', { kind: 'range', ip: 'ipv4 10.0.0.0', bits: 0 }],
    ['[::ffff:10.0.0.0/104]:80', { kind: 'range', ip: 'ipv4 10.0.0.0', bits: 8, port: 80 }],
    ['::ffff:0.0.0.0/95', { kind: 'range', ip: 'ipv6 ::ffff:0:0', bits: 95 }],
  ];
  for (const [raw, expected] of accepted) {
    it(`${JSON.stringify(raw)} is ${JSON.stringify(expected)}`, () => {
      expect(plain(parseAllowEntry(raw))).toStrictEqual(expected);
    });
  }
});

describe('parseAllowEntry: refused forms', () => {
  const refused: Array<[unknown, string]> = [
    ['', ALLOW_ENTRY_FORMS],
    ['10.0.0.0/8:0', `${ALLOW_ENTRY_FORMS}; 0 is not a port (1-65535)`],
    ['api.example.com:65536', `${ALLOW_ENTRY_FORMS}; 65536 is not a port (1-65535)`],
    ['[::1]:70000', `${ALLOW_ENTRY_FORMS}; 70000 is not a port (1-65535)`],
    ['[fd00::/8]:0', `${ALLOW_ENTRY_FORMS}; 0 is not a port (1-65535)`],
    ['10.0.0.0/8/8', ALLOW_ENTRY_FORMS],
    ['[10.0.0.1]', ALLOW_ENTRY_FORMS],
    ['-bad.example', ALLOW_ENTRY_FORMS],
    ['bad-.example', ALLOW_ENTRY_FORMS],
    ['a..b', ALLOW_ENTRY_FORMS],
    ['*example.com', ALLOW_ENTRY_FORMS],
    ['x.*.example', ALLOW_ENTRY_FORMS],
    [`${'a'.repeat(64)}.example`, ALLOW_ENTRY_FORMS],
    ['host.0x1f', ALLOW_ENTRY_FORMS],
    ['host.0X', ALLOW_ENTRY_FORMS],
    ['host.12', ALLOW_ENTRY_FORMS],
    ['a[::1]', ALLOW_ENTRY_FORMS],
    ['[::1]x', ALLOW_ENTRY_FORMS],
    ['x[fd00::/8]', ALLOW_ENTRY_FORMS],
    ['[fd00::/8]x', ALLOW_ENTRY_FORMS],
    ['10.0.0.0/8:', ALLOW_ENTRY_FORMS],
  ];
  for (const [raw, expected] of refused) {
    it(`${JSON.stringify(raw)} is refused naming the option and the value`, () => {
      expect(() => parseAllowEntry(raw, 'refuse[3]')).toThrow(
        `Expected \`refuse[3]\` to be ${expected}, got ${JSON.stringify(raw)}`,
      );
    });
  }

  it('names `allow` unless told another option', () => {
    expect(() => parseAllowEntry('')).toThrow('Expected `allow` to be');
  });

  it('takes a name of 63-character labels, and a hex-looking label that is not a number', () => {
    const label = 'a'.repeat(63);
    expect(parseAllowEntry(`${label}.example`)).toEqual({ kind: 'name', name: `${label}.example` });
    expect(parseAllowEntry('db.0xfg')).toEqual({ kind: 'name', name: 'db.0xfg' });
    expect(parseAllowEntry('db.1a')).toEqual({ kind: 'name', name: 'db.1a' });
    expect(parseAllowEntry('db.a1')).toEqual({ kind: 'name', name: 'db.a1' });
    expect(parseAllowEntry('db.a0x1')).toEqual({ kind: 'name', name: 'db.a0x1' });
  });
});

describe('normaliseHost and parseAddress', () => {
  it('lower-cases, drops one trailing dot and the IPv6 brackets', () => {
    expect(['API.Example.', '[::1]', '[FD00::1]', 'x', '[x', 'x]'].map(normaliseHost)).toEqual([
      'api.example',
      '::1',
      'fd00::1',
      'x',
      '[x',
      'x]',
    ]);
  });

  it('judges IPv4-mapped and IPv4-compatible IPv6 as the IPv4 they carry, :: and ::1 aside', () => {
    const judged = (a: string) => `${parseAddress(a).kind()} ${parseAddress(a).toString()}`;
    expect(
      [
        '10.0.0.1',
        '::ffff:10.0.0.1',
        '::10.0.0.1',
        '::2',
        '::1',
        '::',
        '::1:0',
        '1::a00:1',
        '0:0:0:0:1::1',
      ].map(judged),
    ).toEqual([
      'ipv4 10.0.0.1',
      'ipv4 10.0.0.1',
      'ipv4 10.0.0.1',
      'ipv4 0.0.0.2',
      'ipv6 ::1',
      'ipv6 ::',
      'ipv4 0.1.0.0',
      'ipv6 1::a00:1',
      'ipv6 ::1:0:0:1',
    ]);
  });

  it('any IPv6 with one of the first six groups set stays IPv6', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 0xffff }), (i, v) => {
        const parts = [0, 0, 0, 0, 0, 0, 0x0a00, 1];
        parts[i] = v;
        if (i === 5 && v === 0xffff) return; // ::ffff:a.b.c.d is IPv4-mapped
        expect(parseAddress(parts.map((p) => p.toString(16)).join(':')).kind()).toBe('ipv6');
      }),
      { numRuns: RUNS },
    );
  });
});
