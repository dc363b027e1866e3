// The destination guard's verdicts: a table of refused and allowed destinations in every spelling, the
// allowlist, and properties tying the numeric forms of an IPv4 address to one verdict.
import type dns from 'node:dns';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDestination, DestinationGuard, DestinationRefusedError } from '../../../lib/http/index.js';
import { BoundedFanoutError, InvalidArgumentError } from '../../../lib/index.js';
import { verdict } from './clients.js';

describe('checkDestination: refused by default', () => {
  const refused: Array<[string, string]> = [
    ['http://127.0.0.1/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://0x7f.0.0.1/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:7f00:1]/', 'loopback'],
    ['http://[0:0:0:0:0:ffff:127.0.0.1]:8080/x', 'loopback'],
    ['http://localhost/', 'loopback'],
    ['http://LOCALHOST./', 'loopback'],
    ['http://169.254.169.254/latest/meta-data/', 'linkLocal'],
    ['http://2852039166/', 'linkLocal'],
    ['http://[::ffff:169.254.169.254]/', 'linkLocal'],
    ['http://[fe80::1]/', 'linkLocal'],
    ['http://[fd00:ec2::254]/', 'uniqueLocal'],
    ['http://10.0.0.1/', 'private'],
    ['http://172.16.5.4/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['https://[::ffff:10.0.0.1]/', 'private'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://0/', 'unspecified'],
    ['http://[::]/', 'unspecified'],
    ['http://100.64.0.1/', 'carrierGradeNat'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://[64:ff9b::7f00:1]/', 'rfc6052'],
    ['http://[2002:7f00:1::]/', '6to4'],
    // IPv4-compatible IPv6 (the deprecated ::/96 form) is judged as the IPv4 it carries.
    ['http://[::127.0.0.1]/', 'loopback'],
    ['http://[::7f00:1]/', 'loopback'],
    ['http://[::169.254.169.254]/', 'linkLocal'],
    ['http://[::10.0.0.1]/', 'private'],
    ['http://[0:0:0:0:0:0:127.0.0.1]:8080/', 'loopback'],
  ];
  for (const [url, range] of refused) {
    it(`${url} is refused as ${range}`, async () => {
      expect(await verdict(url)).toBe(range);
    });
  }

  it('refuses a scheme other than http: and https:', async () => {
    const error = await checkDestination('file:///etc/passwd').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationRefusedError);
    expect(error).toBeInstanceOf(BoundedFanoutError);
    expect(error).toMatchObject({ code: 'BF_DESTINATION_REFUSED', reason: 'protocol', range: 'file:' });
  });

  it('names the host, the address and the range', async () => {
    // A stub resolver: localhost's addresses and their order vary between machines.
    const lookup = ((_h: string, _o: unknown, cb: (e: null, a: dns.LookupAddress[]) => void) =>
      cb(null, [{ address: '127.0.0.1', family: 4 }])) as unknown as typeof dns.lookup;
    const error = (await checkDestination('http://db.test:9/', { lookup }).catch(
      (e: unknown) => e,
    )) as DestinationRefusedError;
    expect(error.name).toBe('DestinationRefusedError');
    expect(error.message).toBe(
      'Destination refused: db.test resolves to 127.0.0.1 (loopback); add it to `allow` to permit it',
    );
    expect(error).toMatchObject({ host: 'db.test', address: '127.0.0.1', reason: 'range' });
  });

  it('rejects a string that is not a URL with InvalidArgumentError naming `url`', async () => {
    await expect(checkDestination('not a url')).rejects.toThrow(InvalidArgumentError);
    await expect(checkDestination('not a url')).rejects.toThrow(
      'Expected `url` to be an absolute http: or https: URL, got "not a url"',
    );
  });
});

describe('checkDestination: allowed', () => {
  const allowed = [
    'http://8.8.8.8/',
    'https://1.1.1.1:8443/x?y=1',
    'http://[2606:4700:4700::1111]/',
    'http://134744072/',
  ];
  for (const url of allowed) {
    it(`${url} (public unicast) is allowed`, async () => {
      expect(await verdict(url)).toBe('allowed');
    });
  }

  const withAllow: Array<[string, string[], string]> = [
    ['http://127.0.0.1:8080/', ['127.0.0.1'], 'allowed'],
    ['http://2130706433/', ['127.0.0.1'], 'allowed'],
    ['http://[::ffff:127.0.0.1]/', ['127.0.0.1'], 'allowed'],
    ['http://127.0.0.2/', ['127.0.0.1'], 'loopback'],
    ['http://10.1.2.3/', ['10.0.0.0/8'], 'allowed'],
    ['http://192.168.0.1/', ['10.0.0.0/8'], 'private'],
    ['http://[fe80::1]/', ['fe80::/10'], 'allowed'],
    ['http://127.0.0.9/', ['::ffff:127.0.0.0/104'], 'allowed'],
    // An allowed name never reaches loopback; the address itself must be allowed.
    ['http://localhost/', ['localhost'], 'loopback'],
    ['http://localhost/', ['localhost', '127.0.0.1', '::1'], 'allowed'],
    ['http://[::1]/', ['127.0.0.0/8'], 'loopback'],
    ['http://[::127.0.0.1]/', ['127.0.0.1'], 'allowed'],
    // An entry with a port allows that port only.
    ['http://127.0.0.1:8080/', ['127.0.0.1:8080'], 'allowed'],
    ['http://127.0.0.1:8081/', ['127.0.0.1:8080'], 'loopback'],
    ['http://127.0.0.1/', ['127.0.0.1:80'], 'allowed'],
    ['https://127.0.0.1/', ['127.0.0.1:80'], 'loopback'],
    ['http://[::1]:8080/', ['[::1]:8080'], 'allowed'],
    ['http://[::1]:9/', ['[::1]:8080'], 'loopback'],
  ];
  for (const [url, allow, expected] of withAllow) {
    it(`${url} with allow ${JSON.stringify(allow)}: ${expected}`, async () => {
      expect(await verdict(url, { allow })).toBe(expected);
    });
  }

  it('a wildcard matches subdomains only, case and trailing dot aside', () => {
    const guard = new DestinationGuard({ allow: ['*.internal.example', 'Api.Example.com'] });
    expect(guard.allowsHost('a.b.internal.example')).toBe(true);
    expect(guard.allowsHost('A.INTERNAL.EXAMPLE.')).toBe(true);
    expect(guard.allowsHost('internal.example')).toBe(false);
    expect(guard.allowsHost('xinternal.example')).toBe(false);
    expect(guard.allowsHost('api.example.com')).toBe(true);
    expect(guard.allowsHost('www.api.example.com')).toBe(false);
  });

  it('a name pattern never matches an IP literal', () => {
    const guard = new DestinationGuard({ allow: ['*.example', 'localhost'] });
    expect(guard.allowsHost('169.254.169.254')).toBe(false);
    expect(guard.allowsHost('127.0.0.1')).toBe(false);
    expect(() => new DestinationGuard({ allow: ['*.254'] })).toThrow(InvalidArgumentError);
  });

  it('a refuse entry wins over allow: the local runtime keeps tasks off its own ports', async () => {
    const options = { allow: ['127.0.0.1'], refuse: ['127.0.0.1:4566'] };
    const error = await checkDestination('http://127.0.0.1:4566/', options).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'refused-entry', range: 'loopback' });
    expect((error as Error).message).toBe(
      'Destination refused: 127.0.0.1 is loopback, an endpoint of the runtime itself',
    );
    expect(await verdict('http://[::ffff:127.0.0.1]:4566/', options)).toBe('loopback');
    expect(await verdict('http://127.0.0.1:4567/', options)).toBe('allowed');
  });
});

describe('checkDestination: names, through a stub resolver (no DNS beyond loopback here)', () => {
  const table: Record<string, string[]> = {
    'public.test': ['93.184.216.34'],
    'rebind.test': ['93.184.216.34', '10.0.0.1'],
    'metadata.test': ['fd00:ec2::254'],
    'api.internal.example': ['10.1.2.3'],
    'private.test': ['10.0.0.5'],
    'imds.test': ['169.254.169.254'],
    'ecs.test': ['169.254.170.2'],
    'loop.test': ['127.0.0.1'],
    'zero.test': ['0.0.0.0'],
  };
  const lookup = ((
    host: string,
    _options: dns.LookupOptions,
    callback: (e: Error | null, a: dns.LookupAddress[]) => void,
  ) => {
    const list = table[host];
    if (!list) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
    else
      callback(
        null,
        list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
  }) as unknown as typeof dns.lookup;

  it('allows a name whose every address is public, and returns them', async () => {
    expect(await checkDestination('https://public.test/', { lookup })).toEqual({
      host: 'public.test',
      addresses: ['93.184.216.34'],
    });
  });

  it('refuses a name if any address it resolves to is refused', async () => {
    expect(await verdict('http://rebind.test/', { lookup })).toBe('private');
    expect(await verdict('http://metadata.test/', { lookup })).toBe('uniqueLocal');
  });

  it('an allowed name reaches private addresses, on its port when the entry names one', async () => {
    expect(await verdict('http://api.internal.example/', { lookup, allow: ['*.internal.example'] })).toBe(
      'allowed',
    );
    expect(await verdict('https://private.test:8443/', { lookup, allow: ['private.test:8443'] })).toBe(
      'allowed',
    );
    expect(await verdict('https://private.test/', { lookup, allow: ['private.test:8443'] })).toBe('private');
  });

  it('an allowed name never reaches loopback, link-local, unspecified or metadata addresses', async () => {
    const allow = ['*.test'];
    const refusal = await checkDestination('http://imds.test/', { lookup, allow }).catch((e: unknown) => e);
    expect((refusal as Error).message).toBe(
      'Destination refused: imds.test resolves to 169.254.169.254 (linkLocal), which an allowed name may not reach; add the address itself to `allow` to permit it',
    );
    expect(await verdict('http://ecs.test/', { lookup, allow })).toBe('linkLocal');
    expect(await verdict('http://metadata.test/', { lookup, allow })).toBe('uniqueLocal');
    expect(await verdict('http://loop.test/', { lookup, allow })).toBe('loopback');
    expect(await verdict('http://zero.test/', { lookup, allow })).toBe('unspecified');
    expect(await verdict('http://private.test/', { lookup, allow })).toBe('allowed');
    // Unless an address entry names them.
    expect(await verdict('http://loop.test/', { lookup, allow: [...allow, '127.0.0.1'] })).toBe('allowed');
    expect(await verdict('http://imds.test/', { lookup, allow: [...allow, '169.254.169.254/32'] })).toBe(
      'allowed',
    );
  });

  it('passes a lookup failure through unchanged', async () => {
    await expect(checkDestination('http://missing.test/', { lookup })).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });
});

describe('DestinationGuard: allowlist validation', () => {
  const bad: unknown[] = [
    '',
    '  ',
    'http://x/',
    '10.0.0.0/33',
    '2130706433',
    '0x7f.1',
    '127.1',
    '0x7f000001',
    '*.254',
    '*.169.254',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '[::1',
    '[zz::1]:80',
    'a b',
    42,
    null,
  ];
  for (const entry of bad) {
    it(`refuses allow entry ${JSON.stringify(entry)} naming allow[1]`, () => {
      const call = () => new DestinationGuard({ allow: ['10.0.0.0/8', entry as string] });
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow('`allow[1]`');
    });
  }

  it('refuses an allow that is not an array', () => {
    expect(() => new DestinationGuard({ allow: '10.0.0.0/8' as never })).toThrow('Expected `allow` to be');
  });
});

const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const dotted = (o: number[]) => o.join('.');
const asInteger = (o: number[]) => String(((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3]);
const asHex = (o: number[]) => `0x${asInteger(o) === '0' ? '0' : Number(asInteger(o)).toString(16)}`;
const asOctal = (o: number[]) => o.map((x) => `0${x.toString(8)}`).join('.');
const asMapped = (o: number[]) => `[::ffff:${dotted(o)}]`;

describe('checkDestination: properties', () => {
  it('every spelling of an IPv4 address gets the verdict of its dotted form', async () => {
    await fc.assert(
      fc.asyncProperty(octets, async (o) => {
        const expected = await verdict(`http://${dotted(o)}/`);
        for (const form of [asInteger(o), asHex(o), asOctal(o), asMapped(o)]) {
          expect(await verdict(`http://${form}/`)).toBe(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every address in loopback, private and link-local ranges is refused, and allowed once its CIDR is listed', async () => {
    const inRange = fc.oneof(
      fc
        .tuple(fc.constant(127), fc.nat(255), fc.nat(255), fc.nat(255))
        .map((o) => [o, '127.0.0.0/8'] as const),
      fc.tuple(fc.constant(10), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => [o, '10.0.0.0/8'] as const),
      fc
        .tuple(fc.constant(192), fc.constant(168), fc.nat(255), fc.nat(255))
        .map((o) => [o, '192.168.0.0/16'] as const),
      fc
        .tuple(fc.constant(169), fc.constant(254), fc.nat(255), fc.nat(255))
        .map((o) => [o, '169.254.0.0/16'] as const),
    );
    await fc.assert(
      fc.asyncProperty(inRange, async ([o, cidr]) => {
        for (const form of [dotted(o), asInteger(o), asMapped(o)]) {
          expect(await verdict(`http://${form}/`)).not.toBe('allowed');
          expect(await verdict(`http://${form}/`, { allow: [cidr] })).toBe('allowed');
        }
      }),
      { numRuns: 200 },
    );
  });
});
