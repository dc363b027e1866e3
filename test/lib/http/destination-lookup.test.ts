// The guard's connect-time parts on their own: the `lookup` it hands to net/tls (one per port, the answer
// shapes net asks for), the literal check, refusal() for an unparsable address, and the refusal messages.
import type dns from 'node:dns';
import { describe, expect, it } from 'vitest';
import { DestinationGuard, DestinationRefusedError } from '../../../lib/http/index.js';

const table: Record<string, dns.LookupAddress[]> = {
  'public.test': [
    { address: '93.184.216.34', family: 4 },
    { address: '2606:2800:220:1::1', family: 6 },
  ],
  'private.test': [{ address: '10.0.0.5', family: 4 }],
  'mixed.test': [
    { address: '93.184.216.34', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
  'empty.test': [],
};

/** A stub resolver over `table`; records the options it was called with. */
function stubLookup() {
  const seen: dns.LookupOptions[] = [];
  const lookup = ((
    host: string,
    options: dns.LookupOptions,
    callback: (e: Error | null, a: dns.LookupAddress[]) => void,
  ) => {
    seen.push(options);
    callback(null, table[host] ?? []);
  }) as unknown as typeof dns.lookup;
  return { lookup, seen };
}

type Answer = { err: (NodeJS.ErrnoException & { range?: string; reason?: string }) | null; args: unknown[] };

function ask(fn: DestinationGuard['lookup'], host: string, options: dns.LookupOptions): Promise<Answer> {
  return new Promise((resolve) => fn(host, options, (err, ...args) => resolve({ err, args })));
}

describe('DestinationGuard: the connect-time lookup', () => {
  it('answers net the first address and its family, or the whole list when asked for all', async () => {
    const { lookup, seen } = stubLookup();
    const guard = new DestinationGuard({ lookup });
    expect(await ask(guard.lookup, 'public.test', { family: 0 })).toEqual({
      err: null,
      args: ['93.184.216.34', 4],
    });
    expect(await ask(guard.lookupFor(443), 'public.test', { all: true })).toEqual({
      err: null,
      args: [table['public.test']],
    });
    // It always resolves every address (so that none slips past), keeping the caller's other options.
    expect(seen).toEqual([{ family: 0, all: true }, { all: true }]);
  });

  it('refuses the connect when any address is refused, and says ENOTFOUND when there is none', async () => {
    const { lookup } = stubLookup();
    const guard = new DestinationGuard({ lookup });
    const mixed = await ask(guard.lookup, 'mixed.test', {});
    expect(mixed.err).toBeInstanceOf(DestinationRefusedError);
    expect(mixed.err).toMatchObject({ range: 'loopback', reason: 'range', host: 'mixed.test' });
    expect(mixed.args).toEqual(['']);
    const empty = await ask(guard.lookup, 'empty.test', {});
    expect(empty.err).toMatchObject({ code: 'ENOTFOUND', message: 'No address for empty.test' });
    expect(empty.args).toEqual(['']);
    // Asked for all, an empty list is the resolver's answer to pass on.
    expect(await ask(guard.lookup, 'empty.test', { all: true })).toEqual({ err: null, args: [[]] });
  });

  it('gives each port its own lookup, once, and applies the entries of that port only', async () => {
    const { lookup } = stubLookup();
    const guard = new DestinationGuard({ lookup, allow: ['private.test:8443'] });
    expect(guard.lookupFor(8443)).toBe(guard.lookupFor(8443));
    expect(guard.lookupFor(8443)).not.toBe(guard.lookupFor(443));
    expect(guard.lookupFor(undefined)).toBe(guard.lookupFor(undefined));
    expect((await ask(guard.lookupFor(8443), 'private.test', {})).args).toEqual(['10.0.0.5', 4]);
    expect((await ask(guard.lookupFor(443), 'private.test', {})).err).toMatchObject({ range: 'private' });
    expect((await ask(guard.lookup, 'private.test', {})).err).toMatchObject({ range: 'private' });
  });

  it('passes a resolver error on as it is', async () => {
    const failure = Object.assign(new Error('getaddrinfo EAI_AGAIN x.test'), { code: 'EAI_AGAIN' });
    const lookup = ((_h: string, _o: unknown, cb: (e: Error) => void) =>
      cb(failure)) as unknown as typeof dns.lookup;
    const answer = await ask(new DestinationGuard({ lookup }).lookup, 'x.test', {});
    expect(answer.err).toBe(failure);
    expect(answer.args).toEqual(['']);
  });
});

describe('DestinationGuard: literals and refusals', () => {
  // Built in each test, not at collection: a guard that throws while the file loads fails no test (Stryker's
  // vitest runner would then count the mutant as survived).
  const newGuard = () =>
    new DestinationGuard({ allow: ['10.0.0.0/8:8080'], refuse: ['*.runtime.test', '10.9.9.9'] });

  it('checks an IP literal, bracketed or not, and leaves names to the lookup', () => {
    const guard = newGuard();
    expect(guard.refuseLiteral('api.example.com')).toBeUndefined();
    expect(guard.refuseLiteral('8.8.8.8')).toBeUndefined();
    expect(guard.refuseLiteral('[::1]')).toMatchObject({ host: '::1', address: '::1', range: 'loopback' });
    expect(guard.refuseLiteral('10.0.0.1', 8080)).toBeUndefined();
    expect(guard.refuseLiteral('10.0.0.1', 8081)).toMatchObject({ range: 'private', reason: 'range' });
    expect(guard.refuseLiteral('10.0.0.1')).toMatchObject({ range: 'private', reason: 'range' });
  });

  it('refuses an address it cannot parse, as unparsable', () => {
    const guard = newGuard();
    const r = guard.refusal('db.test', 'not-an-ip');
    expect(r).toMatchObject({ host: 'db.test', address: 'not-an-ip', range: 'unparsable', reason: 'range' });
    expect(r?.message).toBe(
      'Destination refused: db.test resolves to not-an-ip (unparsable); add it to `allow` to permit it',
    );
  });

  it('refuses a refuse entry by name or address, allowed range or not, with the host as compared', () => {
    const guard = newGuard();
    const byName = guard.refusal('Edge.Runtime.Test.', '93.184.216.34');
    expect(byName).toMatchObject({ host: 'edge.runtime.test', reason: 'refused-entry', range: 'unicast' });
    expect(byName?.message).toBe(
      'Destination refused: edge.runtime.test resolves to 93.184.216.34 (unicast), an endpoint of the runtime itself',
    );
    expect(guard.refusal('x.test', '10.9.9.9', 8080)).toMatchObject({ reason: 'refused-entry' });
    expect(guard.refusal('x.test', '10.9.9.8', 8080)).toBeUndefined();
    expect(guard.refusal('runtime.test', '93.184.216.34')).toBeUndefined();
  });

  it('an allowed name reaches a public or private address, never loopback or metadata', () => {
    const guard = newGuard();
    expect(guard.refusal('x.test', '93.184.216.34', 443, true)).toBeUndefined();
    expect(guard.refusal('x.test', '192.168.1.1', 443, true)).toBeUndefined();
    expect(guard.refusal('x.test', '::1', 443, true)).toMatchObject({
      reason: 'name-to-host',
      range: 'loopback',
    });
    // Link-local beyond the metadata addresses, too.
    for (const address of ['169.254.1.1', 'fe80::1']) {
      expect(guard.refusal('x.test', address, 443, true)).toMatchObject({
        reason: 'name-to-host',
        range: 'linkLocal',
      });
    }
    expect(guard.refusal('x.test', 'fd00:ec2::254', 443, true)).toMatchObject({
      reason: 'name-to-host',
      range: 'uniqueLocal',
    });
    expect(guard.refusal('x.test', '::', 443, true)).toMatchObject({
      reason: 'name-to-host',
      range: 'unspecified',
    });
  });

  it('refuses `allow` or `refuse` that is not an array, naming it', () => {
    expect(() => new DestinationGuard({ allow: 'x.test' as never })).toThrow(
      'Expected `allow` to be an array of entries, got "x.test"',
    );
    expect(() => new DestinationGuard({ refuse: '10.0.0.0/8' as never })).toThrow(
      'Expected `refuse` to be an array of entries, got "10.0.0.0/8"',
    );
    expect(() => new DestinationGuard({ refuse: ['ok.test', 'bad host'] })).toThrow('`refuse[1]`');
  });
});

describe('DestinationGuard.check: the port a URL calls', () => {
  const guard = () => new DestinationGuard({ allow: ['127.0.0.1:443', '127.0.0.2:80', '127.0.0.3:8080'] });
  const verdictOf = (url: string | URL) =>
    guard()
      .check(url)
      .then(
        () => 'allowed',
        (e: DestinationRefusedError) => e.range,
      );

  it('is 443 for https:, 80 for http:, else the one written', async () => {
    expect(await verdictOf('https://127.0.0.1/')).toBe('allowed');
    expect(await verdictOf('http://127.0.0.1/')).toBe('loopback');
    expect(await verdictOf('http://127.0.0.2/')).toBe('allowed');
    expect(await verdictOf('https://127.0.0.2/')).toBe('loopback');
    expect(await verdictOf(new URL('https://127.0.0.3:8080/'))).toBe('allowed');
    expect(await verdictOf('http://127.0.0.3/')).toBe('loopback');
  });

  it('returns an IPv6 literal without brackets, an IPv4-mapped one as the IPv4 it carries', async () => {
    const open = new DestinationGuard();
    expect(await open.check('http://[2606:4700:4700::1111]/')).toEqual({
      host: '2606:4700:4700::1111',
      addresses: ['2606:4700:4700::1111'],
    });
    expect(await open.check('http://[::ffff:8.8.8.8]/')).toEqual({
      host: '::ffff:808:808',
      addresses: ['8.8.8.8'],
    });
  });

  it('names the protocol it refuses', async () => {
    const error = await guard()
      .check('ftp://127.0.0.1/')
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('Destination refused: protocol ftp: is not http: or https:');
    expect(error).toMatchObject({ host: '127.0.0.1', address: undefined, reason: 'protocol' });
  });
});
