// Where a request may go. The check runs on the address a name resolves to, at connect time (a custom
// `lookup` handed to net/tls, plus a direct check of IP literals, which net connects to without a lookup),
// so a public-looking name that resolves to 127.0.0.1 or 169.254.169.254 is refused like the literal.
// Address logic is ipaddr.js: maintained, no dependencies, and it classifies every IANA special-purpose
// range (we allow only what it calls `unicast`), which a hand-written CIDR table would drift from.
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { BoundedFanoutError, ErrorCodes, InvalidArgumentError } from '../errors.js';
import {
  type Address,
  type AllowEntry,
  normaliseHost,
  parseAddress,
  parseAllowEntry,
} from './allow-entry.js';

export const DESTINATION_REFUSED = ErrorCodes.DESTINATION_REFUSED;

export const RefusalReasons = {
  /** The address is in a non-public range (loopback, private, link-local, unique-local, ...). */
  RANGE: 'range',
  /** The URL's scheme is not http: or https:. */
  PROTOCOL: 'protocol',
  /** An allowed name resolved to loopback, link-local or a metadata address: only an IP or CIDR entry lets those. */
  NAME_TO_HOST: 'name-to-host',
  /** On the guard's `refuse` list (the local runtime's own endpoints), whatever `allow` says. */
  REFUSED_ENTRY: 'refused-entry',
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
    super(`Destination refused: ${describeRefusal(host, address, range, reason)}`, DESTINATION_REFUSED);
    this.name = 'DestinationRefusedError';
    this.host = host;
    this.address = address;
    this.range = range;
    this.reason = reason;
  }
}

function describeRefusal(host: string, address: string | undefined, range: string, reason: RefusalReason) {
  if (reason === RefusalReasons.PROTOCOL) return `protocol ${range} is not http: or https:`;
  const what =
    address !== undefined && address !== host
      ? `${host} resolves to ${address} (${range})`
      : `${host} is ${range}`;
  if (reason === RefusalReasons.REFUSED_ENTRY) return `${what}, an endpoint of the runtime itself`;
  if (reason === RefusalReasons.NAME_TO_HOST) {
    return `${what}, which an allowed name may not reach; add the address itself to \`allow\` to permit it`;
  }
  return `${what}; add it to \`allow\` to permit it`;
}

export interface DestinationGuardOptions {
  /** Entries let through although not public: names, IP addresses or CIDRs, optionally with a port (allow-entry.ts). */
  readonly allow?: readonly string[];
  /** Entries refused whatever `allow` says: the local runtime lists its own listening endpoints here. */
  readonly refuse?: readonly string[];
  /** The resolver; dns.lookup unless given (tests and custom resolvers). */
  readonly lookup?: typeof dns.lookup;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;
export type GuardLookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void;

// An allowed name lets private addresses through (partners on a VPC by name), but never these: loopback,
// link-local and unspecified (0.0.0.0 reaches this host) ranges, and the cloud's metadata addresses, unless
// an IP or CIDR entry names them. A name can be re-pointed (DNS rebinding); an address entry cannot.
const NAME_NEVER_REACHES = new Set(['loopback', 'linkLocal', 'unspecified']);
const METADATA = ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254'].map((a) => ipaddr.parse(a).toString());

const portMatches = (entry: AllowEntry, port: number | undefined) =>
  entry.port === undefined || entry.port === port;

export class DestinationGuard {
  readonly #allowNames: AllowEntry[] = [];
  readonly #allowRanges: Extract<AllowEntry, { kind: 'range' }>[] = [];
  readonly #refused: AllowEntry[] = [];
  readonly #lookup: typeof dns.lookup;
  readonly #lookups = new Map<number | undefined, GuardLookup>();

  constructor({ allow = [], refuse = [], lookup = dns.lookup }: DestinationGuardOptions = {}) {
    if (!Array.isArray(allow)) throw new InvalidArgumentError('allow', allow, 'an array of entries');
    if (!Array.isArray(refuse)) throw new InvalidArgumentError('refuse', refuse, 'an array of entries');
    allow.forEach((raw, i) => {
      const entry = parseAllowEntry(raw, `allow[${i}]`);
      if (entry.kind === 'range') this.#allowRanges.push(entry);
      else this.#allowNames.push(entry);
    });
    refuse.forEach((raw, i) => {
      this.#refused.push(parseAllowEntry(raw, `refuse[${i}]`));
    });
    this.#lookup = lookup;
  }

  /** True when a name entry allows `host` (on `port`). Name entries never match an IP literal. */
  allowsHost(host: string, port?: number): boolean {
    const h = normaliseHost(host);
    if (net.isIP(h) !== 0) return false;
    return this.#allowNames.some((e) => portMatches(e, port) && matchesName(e, h));
  }

  /** The refusal for one address `host` is called at, or undefined when it may be called. */
  refusal(
    host: string,
    address: string,
    port?: number,
    nameAllowed = false,
  ): DestinationRefusedError | undefined {
    let ip: Address;
    try {
      ip = parseAddress(address);
    } catch {
      return new DestinationRefusedError(host, address, 'unparsable', RefusalReasons.RANGE);
    }
    const h = normaliseHost(host);
    const refused = this.#refused.some(
      (e) => portMatches(e, port) && (e.kind === 'range' ? inRange(ip, e) : matchesName(e, h)),
    );
    if (refused)
      return new DestinationRefusedError(h, ip.toString(), ip.range(), RefusalReasons.REFUSED_ENTRY);
    if (this.#allowRanges.some((e) => portMatches(e, port) && inRange(ip, e))) return undefined;
    const name = ip.range();
    if (nameAllowed) {
      const guarded = NAME_NEVER_REACHES.has(name) || METADATA.includes(ip.toString());
      return guarded
        ? new DestinationRefusedError(h, ip.toString(), name, RefusalReasons.NAME_TO_HOST)
        : undefined;
    }
    return name === 'unicast'
      ? undefined
      : new DestinationRefusedError(h, ip.toString(), name, RefusalReasons.RANGE);
  }

  /** The connect-time check of an IP literal (net skips `lookup` for those); undefined for names. */
  refuseLiteral(host: string, port?: number): DestinationRefusedError | undefined {
    const h = normaliseHost(host);
    return net.isIP(h) === 0 ? undefined : this.refusal(h, h, port);
  }

  /**
   * A `lookup` for net.connect / tls.connect to `port`: resolves every address and refuses the connect if
   * any is refused. net does not tell a lookup the port, so each port gets its own.
   */
  lookupFor(port?: number): GuardLookup {
    let fn = this.#lookups.get(port);
    if (!fn) {
      fn = (hostname, options, callback) => this.#guardedLookup(hostname, port, options, callback);
      this.#lookups.set(port, fn);
    }
    return fn;
  }

  /** lookupFor() with no port: only entries without a port apply. */
  readonly lookup: GuardLookup = (hostname, options, callback) =>
    this.#guardedLookup(hostname, undefined, options, callback);

  #guardedLookup(
    hostname: string,
    port: number | undefined,
    options: dns.LookupOptions,
    callback: LookupCallback,
  ) {
    const nameAllowed = this.allowsHost(hostname, port);
    this.#lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as unknown as dns.LookupAddress[];
      for (const { address } of list) {
        const refused = this.refusal(hostname, address, port, nameAllowed);
        if (refused) return callback(refused as NodeJS.ErrnoException, '');
      }
      if (options.all) return callback(null, list);
      if (list.length === 0)
        return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), '');
      callback(null, list[0].address, list[0].family);
    });
  }

  /** Resolves to the addresses `url` would be called at, or rejects with DestinationRefusedError. */
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
    const port = Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80);
    if (net.isIP(host) !== 0) {
      const refused = this.refusal(host, host, port);
      if (refused) throw refused;
      return { host, addresses: [parseAddress(host).toString()] };
    }
    const addresses = await new Promise<string[]>((resolve, reject) => {
      this.lookupFor(port)(host, { all: true }, (err, list) => {
        if (err) reject(err);
        else resolve((list as dns.LookupAddress[]).map((a) => a.address));
      });
    });
    return { host, addresses };
  }
}

function matchesName(entry: AllowEntry, host: string): boolean {
  if (entry.kind === 'name') return entry.name === host;
  if (entry.kind === 'suffix') return host.endsWith(entry.suffix);
  return false;
}

function inRange(ip: Address, entry: Extract<AllowEntry, { kind: 'range' }>): boolean {
  return ip.kind() === entry.ip.kind() && ip.match(entry.ip, entry.bits);
}

/**
 * Resolves when `url` may be called and rejects with DestinationRefusedError when not: link-local
 * (169.254.0.0/16, fe80::/10, the instance metadata endpoint among them), loopback, private, unique-local
 * and every other non-unicast range are refused unless `allow` lists the host or a CIDR covering it; an
 * allowed name still never reaches loopback, link-local, unspecified or metadata addresses.
 */
export function checkDestination(
  url: string | URL,
  options: DestinationGuardOptions = {},
): Promise<{ host: string; addresses: string[] }> {
  return new DestinationGuard(options).check(url);
}
