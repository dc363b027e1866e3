// Where a request may go. The check runs on the address a name resolves to, at connect time (a custom
// `lookup` handed to net/tls, plus a direct check of IP literals, which net connects to without a lookup),
// so a public-looking name that resolves to 127.0.0.1 or 169.254.169.254 is refused like the literal.
// Address logic is ipaddr.js: maintained, no dependencies, and it classifies every IANA special-purpose
// range (we allow only what it calls `unicast`), which a hand-written CIDR table would drift from.
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { BoundedFanoutError, InvalidArgumentError } from '../errors.js';

export const DESTINATION_REFUSED = 'BF_DESTINATION_REFUSED';

export const RefusalReasons = {
  /** The address is in a non-public range (loopback, private, link-local, unique-local, ...). */
  RANGE: 'range',
  /** The URL's scheme is not http: or https:. */
  PROTOCOL: 'protocol',
} as const;
export type RefusalReason = (typeof RefusalReasons)[keyof typeof RefusalReasons];

/** A destination the guard will not call. Never retried. */
export class DestinationRefusedError extends BoundedFanoutError {
  readonly host: string;
  readonly address: string | undefined;
  /** ipaddr.js's name of the range (`loopback`, `private`, `linkLocal`, ...) or the refused protocol. */
  readonly range: string;
  readonly reason: RefusalReason;
  constructor(host: string, address: string | undefined, range: string, reason: RefusalReason) {
    const what =
      reason === RefusalReasons.PROTOCOL
        ? `protocol ${range} is not http: or https:`
        : address !== undefined && address !== host
          ? `${host} resolves to ${address} (${range})`
          : `${host} is ${range}`;
    super(`Destination refused: ${what}; add it to \`allow\` to permit it`, DESTINATION_REFUSED);
    this.name = 'DestinationRefusedError';
    this.host = host;
    this.address = address;
    this.range = range;
    this.reason = reason;
  }
}

export interface DestinationGuardOptions {
  /** Host names (`api.example.com`, `*.example.com`), IP addresses or CIDRs let through although not public. */
  readonly allow?: readonly string[];
  /** The resolver; dns.lookup unless given (tests and custom resolvers). */
  readonly lookup?: typeof dns.lookup;
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

const HOST_NAME =
  /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$/i;

/** A name as compared: lower case, no trailing dot, no IPv6 brackets. */
function normaliseHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it carries. */
function parseAddress(address: string): Address {
  const ip = ipaddr.parse(address);
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()
    ? (ip as ipaddr.IPv6).toIPv4Address()
    : ip;
}

export class DestinationGuard {
  readonly #hosts = new Set<string>();
  readonly #suffixes: string[] = [];
  readonly #ranges: Array<[Address, number]> = [];
  readonly #lookup: typeof dns.lookup;

  constructor({ allow = [], lookup = dns.lookup }: DestinationGuardOptions = {}) {
    if (!Array.isArray(allow)) throw new InvalidArgumentError('allow', allow, 'an array of hosts or CIDRs');
    allow.forEach((entry, i) => {
      this.#addEntry(entry, `allow[${i}]`);
    });
    this.#lookup = lookup;
  }

  #addEntry(entry: unknown, option: string): void {
    const expected = 'a host name, an IP address or a CIDR';
    if (typeof entry !== 'string' || entry.trim() === '')
      throw new InvalidArgumentError(option, entry, expected);
    const value = entry.trim();
    if (ipaddr.isValidCIDR(value)) {
      const [ip, bits] = ipaddr.parseCIDR(value);
      const mapped = ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96;
      this.#ranges.push(mapped ? [(ip as ipaddr.IPv6).toIPv4Address(), bits - 96] : [ip, bits]);
    } else if (ipaddr.IPv4.isValidFourPartDecimal(value) || ipaddr.IPv6.isValid(normaliseHost(value))) {
      const ip = parseAddress(normaliseHost(value));
      this.#ranges.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
    } else if (HOST_NAME.test(value) && !/^[\d.]+$/.test(value) && !/^0x/i.test(value)) {
      const host = normaliseHost(value);
      if (host.startsWith('*.')) this.#suffixes.push(host.slice(1));
      else this.#hosts.add(host);
    } else {
      throw new InvalidArgumentError(option, entry, expected);
    }
  }

  /** True when the name itself is on the allowlist (then whatever it resolves to is let through). */
  allowsHost(host: string): boolean {
    const h = normaliseHost(host);
    return this.#hosts.has(h) || this.#suffixes.some((s) => h.endsWith(s));
  }

  /** The refusal for one resolved address of `host`, or undefined when it may be called. */
  refusal(host: string, address: string): DestinationRefusedError | undefined {
    let ip: Address;
    try {
      ip = parseAddress(address);
    } catch {
      return new DestinationRefusedError(host, address, 'unparsable', RefusalReasons.RANGE);
    }
    for (const range of this.#ranges) if (ip.kind() === range[0].kind() && ip.match(range)) return undefined;
    const name = ip.range();
    return name === 'unicast'
      ? undefined
      : new DestinationRefusedError(host, ip.toString(), name, RefusalReasons.RANGE);
  }

  /** The connect-time check of an IP literal (net skips `lookup` for those); undefined for names. */
  refuseLiteral(host: string): DestinationRefusedError | undefined {
    const h = normaliseHost(host);
    if (net.isIP(h) === 0 || this.allowsHost(h)) return undefined;
    return this.refusal(h, h);
  }

  /** A `lookup` for net.connect / tls.connect: resolves all addresses and refuses if any is refused. */
  readonly lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    if (this.allowsHost(hostname)) {
      this.#lookup(hostname, options, callback as never);
      return;
    }
    this.#lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as unknown as dns.LookupAddress[];
      for (const { address } of list) {
        const refused = this.refusal(hostname, address);
        if (refused) return callback(refused as NodeJS.ErrnoException, '');
      }
      if (options.all) return callback(null, list);
      if (list.length === 0)
        return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), '');
      callback(null, list[0].address, list[0].family);
    });
  };

  /**
   * Resolves to the addresses `url` would be called at, or rejects with DestinationRefusedError.
   * A name on the allowlist resolves to [] without a lookup.
   */
  async check(url: string | URL): Promise<{ host: string; addresses: string[] }> {
    let parsed: URL;
    try {
      parsed = typeof url === 'string' ? new URL(url) : url;
    } catch {
      throw new InvalidArgumentError('url', url, 'an absolute http: or https: URL');
    }
    // WHATWG URL parsing has already turned decimal, octal and hex IPv4 forms into dotted quads.
    const host = normaliseHost(parsed.hostname);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new DestinationRefusedError(host, undefined, parsed.protocol, RefusalReasons.PROTOCOL);
    }
    if (this.allowsHost(host)) return { host, addresses: [] };
    if (net.isIP(host) !== 0) {
      const refused = this.refusal(host, host);
      if (refused) throw refused;
      return { host, addresses: [parseAddress(host).toString()] };
    }
    const addresses = await new Promise<string[]>((resolve, reject) => {
      this.lookup(host, { all: true }, (err, list) => {
        if (err) reject(err);
        else resolve((list as dns.LookupAddress[]).map((a) => a.address));
      });
    });
    return { host, addresses };
  }
}

/**
 * Resolves when `url` may be called and rejects with DestinationRefusedError when not: link-local
 * (169.254.0.0/16, fe80::/10, the instance metadata endpoint among them), loopback, private, unique-local
 * and every other non-unicast range are refused unless `allow` lists the host or a CIDR covering it.
 */
export function checkDestination(
  url: string | URL,
  options: DestinationGuardOptions = {},
): Promise<{ host: string; addresses: string[] }> {
  return new DestinationGuard(options).check(url);
}
