// Where the local runtime's one endpoint listens: `--listen HOST:PORT`, or by default 127.0.0.1:4566 (the port
// LocalStack's edge uses, so tools configured for LocalStack find it) when that is free, else any free port on
// 127.0.0.1. The endpoint has no authentication: whoever reaches it can read the queues and the bucket and invoke
// the functions, so a host that is not loopback is refused unless the caller explicitly allows it.
import type { Server } from 'node:http';
import { isIP } from 'node:net';
import { BoundedFanoutError, ErrorCodes, InvalidArgumentError } from '../lib/errors.js';

export const DEFAULT_EDGE_HOST = '127.0.0.1';
export const DEFAULT_EDGE_PORT = 4566;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export class EdgeListenError extends BoundedFanoutError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ErrorCodes.EDGE_LISTEN, options);
    this.name = 'EdgeListenError';
  }
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/**
 * `HOST:PORT` (`[::1]:4566` for IPv6). `option` names the flag in errors; a host that is not loopback is
 * refused unless `allowNonLoopback`.
 */
export function parseListenAddress(
  raw: string,
  { option = '--listen', allowNonLoopback = false } = {},
): ListenAddress {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(raw.trim());
  const host = match?.[1].replace(/^\[|\]$/g, '');
  const port = Number(match?.[2]);
  const hostOk = host !== undefined && (host === 'localhost' || isIP(host) !== 0);
  if (!match || !hostOk || port > 65535) {
    throw new InvalidArgumentError(
      option,
      raw,
      'HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:4566',
    );
  }
  if (!allowNonLoopback && !isLoopbackHost(host)) {
    throw new InvalidArgumentError(
      option,
      raw,
      'a loopback address (127.0.0.1, [::1], localhost): the endpoint has no authentication, so anyone who reaches it can read the queues, invoke the functions and change the worker’s concurrency',
    );
  }
  return { host, port };
}

/**
 * Listens at `address`, or by default at `preferred` (127.0.0.1:4566) falling back to a free port when that one is
 * taken (`preferred` is a parameter so a test can prove the preference on a port no other test takes).
 * An address asked for that is taken is an error: the user named it, so another port would surprise them.
 */
export async function listenAt(
  server: Server,
  address?: ListenAddress,
  preferred: ListenAddress = { host: DEFAULT_EDGE_HOST, port: DEFAULT_EDGE_PORT },
): Promise<ListenAddress> {
  if (address) {
    await bind(server, address).catch((error) => {
      throw new EdgeListenError(`Cannot listen on ${formatHostPort(address)}: ${reasonOf(error)}`, {
        cause: error,
      });
    });
  } else {
    await bind(server, preferred).catch(async (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      await bind(server, { host: preferred.host, port: 0 });
    });
  }
  const bound = server.address();
  if (!bound || typeof bound === 'string') throw new EdgeListenError('The endpoint has no TCP address');
  return { host: bound.address, port: bound.port };
}

/** `http://HOST:PORT` for clients on this machine: an unspecified address (0.0.0.0, ::) is reached on loopback. */
export function endpointUrlOf({ host, port }: ListenAddress): string {
  if (host === '0.0.0.0' || host === '::') return `http://127.0.0.1:${port}`;
  return `http://${formatHostPort({ host, port })}`;
}

export function formatHostPort({ host, port }: ListenAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(server: Server, { host, port }: ListenAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return 'the address is in use (EADDRINUSE)';
  if (code === 'EADDRNOTAVAIL') return 'no interface here has that address (EADDRNOTAVAIL)';
  if (code === 'EACCES') return 'permission denied (EACCES)';
  return (error as Error)?.message ?? String(error);
}
