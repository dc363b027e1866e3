import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CountingServer,
  startCountingServer,
  testCertificate,
} from '../../../bench/servers/counting-server.js';
import { createHttpAgents, DestinationRefusedError } from '../../../lib/http/index.js';
import { get, type Kind, kinds, verdict } from './clients.js';

type Octets = readonly [number, number, number, number];

const hex = (n: number) => n.toString(16);
const int32 = (o: Octets) => ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
const high = (o: Octets) => hex((o[0] << 8) + o[1]);
const low = (o: Octets) => hex((o[2] << 8) + o[3]);

/** Every way a URL can spell one IPv4 address, each judged as that address. */
function spellings(o: Octets): string[] {
  const dotted = o.join('.');
  return [
    dotted,
    `${dotted}.`,
    String(int32(o)),
    `0x${hex(int32(o))}`,
    o.map((x) => `0${x.toString(8)}`).join('.'),
    o.map((x) => `0x${hex(x)}`).join('.'),
    `${o[0]}.${o[1]}.${(o[2] << 8) + o[3]}`,
    `${o[0]}.${(o[1] << 16) + (o[2] << 8) + o[3]}`,
    `[::ffff:${dotted}]`,
    `[::ffff:${high(o)}:${low(o)}]`,
    `[0:0:0:0:0:ffff:${dotted}]`,
    `[::${dotted}]`,
    `[::${high(o)}:${low(o)}]`,
  ];
}

// [address, verdict]: 'allowed' or the refused range.
const ipv4: Array<[Octets, string]> = [
  [[127, 0, 0, 1], 'loopback'],
  [[127, 1, 2, 3], 'loopback'],
  [[127, 255, 255, 254], 'loopback'],
  [[169, 254, 169, 254], 'linkLocal'],
  [[169, 254, 170, 2], 'linkLocal'],
  [[10, 0, 0, 1], 'private'],
  [[10, 255, 255, 255], 'private'],
  [[172, 16, 0, 1], 'private'],
  [[172, 31, 255, 254], 'private'],
  [[192, 168, 1, 1], 'private'],
  [[100, 64, 0, 1], 'carrierGradeNat'],
  [[224, 0, 0, 1], 'multicast'],
  [[255, 255, 255, 255], 'broadcast'],
  [[8, 8, 8, 8], 'allowed'],
  [[93, 184, 216, 34], 'allowed'],
  [[1, 1, 1, 1], 'allowed'],
];

const ipv6: Array<[string, string]> = [
  ['[::1]', 'loopback'],
  ['[0:0:0:0:0:0:0:1]', 'loopback'],
  ['[::]', 'unspecified'],
  ['[fe80::1]', 'linkLocal'],
  ['[fe80::a9fe:a9fe]', 'linkLocal'],
  ['[fd00::1]', 'uniqueLocal'],
  ['[fd00:ec2::254]', 'uniqueLocal'],
  ['[fc00::1]', 'uniqueLocal'],
  ['[ff02::1]', 'multicast'],
  ['[64:ff9b::7f00:1]', 'rfc6052'],
  ['[64:ff9b::a9fe:a9fe]', 'rfc6052'],
  ['[64:ff9b:1::7f00:1]', 'rfc6052'],
  ['[::ffff:0:7f00:1]', 'rfc6145'],
  ['[2002:7f00:1::]', '6to4'],
  ['[2002:a9fe:a9fe::1]', '6to4'],
  ['[2001::1]', 'teredo'],
  ['[2001:db8::1]', 'reserved'],
  ['[2606:4700:4700::1111]', 'allowed'],
  ['[2001:4860:4860::8888]', 'allowed'],
];

const table: Array<[string, string]> = [
  ...ipv4.flatMap(([o, verdict]) =>
    spellings(o).map((host) => [`http://${host}/`, verdict] as [string, string]),
  ),
  ...ipv6.map(([host, verdict]) => [`http://${host}/`, verdict] as [string, string]),
  ['http://localhost/', 'loopback'],
  ['http://LOCALHOST./', 'loopback'],
];

describe('the destination table', () => {
  it('holds more than 200 destinations', () => {
    expect(table.length).toBeGreaterThanOrEqual(200);
  });

  it('gives each its verdict', async () => {
    const wrong: string[] = [];
    for (const [url, expected] of table) {
      const got = await verdict(url);
      if (got !== expected) wrong.push(`${url}: ${got}, expected ${expected}`);
    }
    expect(wrong).toEqual([]);
  });

  it('an allow entry for the address lets every spelling of it through, and only on its port when it names one', async () => {
    const wrong: string[] = [];
    for (const [o, expected] of ipv4.filter(([, v]) => v !== 'allowed' && v !== 'broadcast')) {
      const address = o.join('.');
      for (const host of spellings(o)) {
        // 0.0.0.1-style compatible forms aside, every spelling carries the address itself.
        for (const [allow, port, want] of [
          [[address], 8080, 'allowed'],
          [[`${address}/32`], 8080, 'allowed'],
          [[`${address}:8080`], 8080, 'allowed'],
          [[`${address}:8080`], 8081, expected],
        ] as const) {
          const got = await verdict(`http://${host}:${port}/`, { allow: [...allow] });
          if (got !== want) wrong.push(`${host}:${port} allow ${allow}: ${got}, expected ${want}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

// Real connects: loopback spellings only, on each client.
const loopbackSpellings = [
  ...spellings([127, 0, 0, 1]).filter((h) => !h.startsWith('[::7f') && !h.startsWith('[::127')),
  '[::1]',
  'localhost',
];

const outcome = (p: Promise<number>) =>
  p.then(
    (status) => `status ${status}`,
    (e: unknown) => (e instanceof DestinationRefusedError ? `refused ${e.range}` : `error ${String(e)}`),
  );

describe('the destination table through real connects', () => {
  const servers = new Map<Kind, CountingServer>();
  beforeAll(async () => {
    for (const kind of kinds)
      servers.set(kind, await startCountingServer({ tls: kind === 'httpsAgent', record: false }));
  });
  afterAll(async () => {
    await Promise.all([...servers.values()].map((s) => s.close()));
  });

  for (const kind of kinds) {
    it(`${kind}: no loopback spelling connects unless its address and port are allowed`, async () => {
      const s = servers.get(kind)!;
      const port = Number(new URL(s.url).port);
      const scheme = kind === 'httpsAgent' ? 'https' : 'http';
      const cases: Array<[string[], string, number]> = [
        [[], 'refused loopback', 0],
        [['localhost'], 'refused loopback', 0], // a name never reaches loopback by itself
        [[`127.0.0.1:${port + 1}`, `[::1]:${port + 1}`], 'refused loopback', 0],
        [['127.0.0.1', '::1'], 'status 200', 1],
        [[`127.0.0.1:${port}`, `[::1]:${port}`], 'status 200', 1],
      ];
      const wrong: string[] = [];
      for (const [allow, want, connects] of cases) {
        for (const host of loopbackSpellings) {
          // ::1 is served only where the server listens on it: the server binds 127.0.0.1, so ::1 rows
          // that are let through may fail to connect; they must still never be refused when allowed.
          const agents = createHttpAgents({ maxSockets: 2 }, { allow, tls: { ca: testCertificate.cert } });
          const before = s.tally.connections;
          const got = await outcome(get(agents, kind, `${scheme}://${host}:${port}/`));
          await agents.destroy();
          const made = s.tally.connections - before;
          // The server listens on 127.0.0.1: ::1 (and localhost when it resolves to ::1 first) may find no one
          // there, and https to a mapped spelling ends in a certificate error; what matters is the guard.
          const maybeElsewhere = host === '[::1]' || host === 'localhost';
          if (want.startsWith('refused')) {
            if (got !== want) wrong.push(`${host} allow ${allow}: ${got}, expected ${want}`);
            if (made !== 0) wrong.push(`${host} allow ${allow}: ${made} connections though refused`);
          } else {
            if (got.startsWith('refused')) wrong.push(`${host} allow ${allow}: ${got}, expected a connect`);
            if (!maybeElsewhere && made !== connects)
              wrong.push(`${host} allow ${allow}: ${made} connections, expected ${connects}`);
            if (!maybeElsewhere && kind !== 'httpsAgent' && got !== want)
              wrong.push(`${host} allow ${allow}: ${got}, expected ${want}`);
          }
        }
      }
      expect(wrong).toEqual([]);
    }, 60_000);
  }
});
