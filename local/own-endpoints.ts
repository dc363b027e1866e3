// The local runtime's own listening endpoints (the emulators, the Invoke endpoint) as destination-guard
// entries that tasks may never reach, whatever --allow-host says: a task allowed onto 127.0.0.1 could
// otherwise send SQS a forged task that the worker would run. The emulators may listen on every address
// (fauxqs binds 0.0.0.0), so each port is refused on every loopback and unspecified address.
export function ownEndpointEntries(urls: readonly (string | undefined)[]): string[] {
  const entries = new Set<string>();
  for (const raw of urls) {
    if (!raw) continue;
    const url = new URL(raw);
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    for (const host of ['127.0.0.0/8', '[::1]', '0.0.0.0', '[::]']) entries.add(`${host}:${port}`);
    const name = url.hostname;
    if (!/^[\d.]+$/.test(name) && !name.startsWith('[')) entries.add(`${name}:${port}`);
  }
  return [...entries];
}
