// The local runtime's own listening endpoints (the one local endpoint, the emulators behind it, the Invoke
// endpoint) as destination-guard entries that tasks may never reach, whatever --allow-host says: a task allowed
// onto 127.0.0.1 could otherwise send SQS a forged task that the worker would run. The emulators may listen on
// every address (fauxqs binds 0.0.0.0, and `--listen` may name a non-loopback host), so each port is refused on
// every loopback and unspecified address and on this machine's own interface addresses.
import { networkInterfaces } from 'node:os';

export function ownEndpointEntries(
  urls: readonly (string | undefined)[],
  interfaceAddresses: readonly string[] = hostAddresses(),
): string[] {
  const entries = new Set<string>();
  for (const raw of urls) {
    if (!raw) continue;
    const url = new URL(raw);
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    for (const host of ['127.0.0.0/8', '[::1]', '0.0.0.0', '[::]']) entries.add(`${host}:${port}`);
    for (const address of interfaceAddresses) {
      entries.add(address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);
    }
    const name = url.hostname;
    if (!/^[\d.]+$/.test(name) && !name.startsWith('[')) entries.add(`${name}:${port}`);
  }
  return [...entries];
}

/** This machine's addresses other than loopback (loopback is refused as a whole range above). */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      // A link-local IPv6 address needs its zone to be dialled: the guard's entries take none.
      if (!info.internal && !(info.family === 'IPv6' && info.scopeid)) out.push(info.address);
    }
  }
  return out;
}
