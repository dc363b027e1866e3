import type net from 'node:net';

/** Listens on an ephemeral port on 127.0.0.1 (loopback only) and resolves with the port. */
export function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}
