// `run --endpoint URL` stands in for the embedded emulators: it must be on this machine or its local network
// (LocalStack in a container: localhost, a loopback address, or a single-label service name such as
// `localstack`). `run` creates queues, a table and a bucket there with placeholder credentials: a remote host is
// refused in one line before any client is built. plan and redrive may name AWS itself and do not use this.
import { isIP } from 'node:net';
import { endpointUrl } from './flag-values.js';
import { UsageError } from './usage-error.js';

const LOCAL_NAMES = /^(localhost|host\.docker\.internal)$|\.localhost$/i;

/** Loopback (127.0.0.0/8, ::1, ::ffff:127.x), a localhost name, or a single-label (container network) name. */
export function isLocalEndpoint(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f/.test(host);
  return LOCAL_NAMES.test(host) || !host.includes('.');
}

export function localEndpointUrl(flag: string, raw: unknown): string {
  const url = endpointUrl(raw);
  if (!isLocalEndpoint(url)) {
    throw UsageError.invalid(
      flag,
      raw,
      'a local endpoint (localhost, a loopback address or a container name such as localstack): run plays AWS on this machine',
    );
  }
  return url;
}
