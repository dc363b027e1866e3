// One entry of the destination guard's `allow` (or `refuse`) list, parsed once, by the one parser the guard,
// the CLI's --allow-host and the config all use, so a value one of them accepts never fails in another.
//   api.example.com        a name (matches that name only, never an IP literal)
//   *.example.com          every name below example.com
//   10.1.2.3, fd00::1      one address (IPv4-mapped and IPv4-compatible IPv6 are judged as their IPv4)
//   10.0.0.0/8, fd00::/8   a range
//   any of these with a port: api.example.com:8443, 127.0.0.1:8080, [::1]:8080, 127.0.0.0/8:4566, [fd00::/8]:443
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from '../errors.js';

export type Address = ipaddr.IPv4 | ipaddr.IPv6;

export type AllowEntry =
  | { readonly kind: 'name'; readonly name: string; readonly port?: number }
  | { readonly kind: 'suffix'; readonly suffix: string; readonly port?: number }
  | { readonly kind: 'range'; readonly ip: Address; readonly bits: number; readonly port?: number };

export const ALLOW_ENTRY_FORMS =
  'a host name (api.example.com, *.example.com), an IP address or a CIDR, optionally with a port (127.0.0.1:8080, [::1]:8080, api.example.com:8443)';

const LABEL = '[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?';
const NAME = new RegExp(`^(\\*\\.)?(${LABEL}\\.)*${LABEL}\\.?$`, 'i');

/** A name as compared: lower case, no trailing dot, no IPv6 brackets. */
export function normaliseHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * An address as judged: IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, the deprecated ::/96
 * form, :: and ::1 aside) IPv6 are the IPv4 address they carry, so ::127.0.0.1 is loopback like 127.0.0.1.
 */
export function parseAddress(address: string): Address {
  const ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv4') return ip;
  const v6 = ip as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  const p = v6.parts;
  const compatible = p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0;
  if (compatible && (p[6] !== 0 || p[7] > 1)) return ipaddr.fromByteArray(v6.toByteArray().slice(12));
  return v6;
}

function parsePort(raw: string | undefined, option: string, entry: string): number | undefined {
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidArgumentError(option, entry, `${ALLOW_ENTRY_FORMS}; ${raw} is not a port (1-65535)`);
  }
  return port;
}

function range(address: string, port: number | undefined): AllowEntry {
  const ip = parseAddress(address);
  return { kind: 'range', ip, bits: ip.kind() === 'ipv4' ? 32 : 128, ...(port ? { port } : {}) };
}

/** Parses one entry; throws InvalidArgumentError naming `option` and the value for anything else. */
export function parseAllowEntry(entry: unknown, option = 'allow'): AllowEntry {
  if (typeof entry !== 'string' || entry.trim() === '') {
    throw new InvalidArgumentError(option, entry, ALLOW_ENTRY_FORMS);
  }
  const value = entry.trim();
  if (value.includes('/')) {
    // 10.0.0.0/8, 10.0.0.0/8:443, fd00::/8, [fd00::/8]:443
    const [, cidr, port] = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ??
      /^([^:]+)(?::(\d+))?$/.exec(value) ?? ['', value];
    if (!ipaddr.isValidCIDR(cidr ?? '')) throw new InvalidArgumentError(option, entry, ALLOW_ENTRY_FORMS);
    const [ip, bits] = ipaddr.parseCIDR(cidr!);
    const withPort = parsePort(port, option, entry);
    const mapped = ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96;
    return mapped
      ? {
          kind: 'range',
          ip: (ip as ipaddr.IPv6).toIPv4Address(),
          bits: bits - 96,
          ...(withPort ? { port: withPort } : {}),
        }
      : { kind: 'range', ip, bits, ...(withPort ? { port: withPort } : {}) };
  }
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    if (!ipaddr.IPv6.isValid(bracketed[1])) throw new InvalidArgumentError(option, entry, ALLOW_ENTRY_FORMS);
    return range(bracketed[1], parsePort(bracketed[2], option, entry));
  }
  if (ipaddr.IPv6.isValid(value)) return range(value, undefined);
  const [, host, port] = /^(.*?)(?::(\d+))?$/.exec(value)!;
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return range(host, parsePort(port, option, entry));
  // 127.1, 0x7f000001, 2130706433 and *.254 look like names to a pattern but are IPv4 in a URL: refused, so
  // that a name entry can never match an address.
  const lastLabel = normaliseHost(host).split('.').at(-1) ?? '';
  if (!NAME.test(host) || /^\d+$/.test(lastLabel) || /^0x[0-9a-f]*$/i.test(lastLabel)) {
    throw new InvalidArgumentError(option, entry, ALLOW_ENTRY_FORMS);
  }
  const name = normaliseHost(host);
  const withPort = parsePort(port, option, entry);
  return name.startsWith('*.')
    ? { kind: 'suffix', suffix: name.slice(1), ...(withPort ? { port: withPort } : {}) }
    : { kind: 'name', name, ...(withPort ? { port: withPort } : {}) };
}
