// The socket limits of one process, validated once, before any agent exists.
import { assertInteger, InvalidArgumentError } from '../errors.js';

export interface HttpLimits {
  /** Sockets open at once across all hosts (node:http's maxTotalSockets, aiohttp's `limit`). */
  readonly maxSockets: number;
  /** Sockets open at once to one origin (aiohttp's `limit_per_host`); defaults to maxSockets. */
  readonly maxSocketsPerHost?: number;
  /** How long an idle keep-alive socket is kept; it holds its slot of the total until then. */
  readonly keepAliveMs?: number;
  /** Time allowed to open a socket (TCP, and TLS for https). */
  readonly connectTimeoutMs?: number;
  /** Time allowed for the response headers, and between two body chunks, on the undici dispatcher. */
  readonly requestTimeoutMs?: number;
}

export type ResolvedHttpLimits = Required<HttpLimits>;

export const defaultHttpLimits = {
  keepAliveMs: 4_000,
  connectTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
} as const;

/** Fills defaults and throws InvalidArgumentError naming the first bad option. */
export function resolveHttpLimits(limits: HttpLimits): ResolvedHttpLimits {
  if (limits === null || typeof limits !== 'object') {
    throw new InvalidArgumentError('limits', limits, 'an object like { maxSockets: 64 }');
  }
  const {
    maxSockets,
    maxSocketsPerHost = maxSockets,
    keepAliveMs = defaultHttpLimits.keepAliveMs,
    connectTimeoutMs = defaultHttpLimits.connectTimeoutMs,
    requestTimeoutMs = defaultHttpLimits.requestTimeoutMs,
  } = limits;
  assertInteger('maxSockets', maxSockets);
  if (!Number.isInteger(maxSocketsPerHost) || maxSocketsPerHost < 1 || maxSocketsPerHost > maxSockets) {
    throw new InvalidArgumentError(
      'maxSocketsPerHost',
      maxSocketsPerHost,
      `an integer from 1 to maxSockets (${maxSockets})`,
    );
  }
  assertInteger('keepAliveMs', keepAliveMs);
  assertInteger('connectTimeoutMs', connectTimeoutMs);
  assertInteger('requestTimeoutMs', requestTimeoutMs);
  return { maxSockets, maxSocketsPerHost, keepAliveMs, connectTimeoutMs, requestTimeoutMs };
}
