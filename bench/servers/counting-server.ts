/**
 * Real loopback servers for tests that count what clients do to them.
 *
 * - `startCountingServer()`: a node:http (or, with `tls: true`, node:https) server on 127.0.0.1 that counts
 *   open sockets and in-flight requests at every moment and records their peaks in a `Tally`. Each request
 *   can be scripted: status, headers (Retry-After...), a reset connection, a stall, an oversized body.
 * - `startCountingProxy()`: a TCP proxy on 127.0.0.1 in front of any server (an emulator), counting the
 *   client connections it carries.
 * - `createTally()`: one tally can be shared by several servers to count their sum (a total socket cap).
 *
 *   const server = await startCountingServer({ delayMs: 1 });
 *   // ... 2,000 requests to server.url ...
 *   expect(server.tally.peakSockets).toBe(8);
 *   server.script((req) => (req.n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : undefined));
 *   await server.close();
 *
 * A socket counts as open from the server's 'connection' to the client's FIN, a reset or the close. One the
 * client closes before the server got round to accepting it (an abort while connecting) is still counted
 * next to its successor until the server reads that close: under client aborts, count client sockets on
 * the client side too (Node's `net.client.socket` diagnostics channel).
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { listen } from './listen.js';
import { reply, type ScriptedReply } from './scripted-reply.js';
import { Tally } from './tally.js';
import { testCertificate } from './test-certificate.js';

// The tally, the proxy and the certificate are imported with the server by most tests: one import path.
export { type CountingProxy, startCountingProxy } from './counting-proxy.js';
export type { ScriptedReply } from './scripted-reply.js';
export { createTally, Tally } from './tally.js';
export { testCertificate } from './test-certificate.js';

export interface RecordedRequest {
  /** 1-based arrival order on this server. */
  readonly n: number;
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** Returns the reply for a request, or undefined for the default (200 "ok" after `delayMs`). */
export type Script = (request: RecordedRequest) => ScriptedReply | undefined;

export interface CountingServerOptions {
  /** Serve https with `testCertificate` (trust it with `ca: testCertificate.cert`). */
  readonly tls?: boolean;
  /** Default wait before answering, so concurrent requests overlap and a cap is reached. 0 by default. */
  readonly delayMs?: number;
  /**
   * Hold each answer until this many requests are in flight on the server (then answer all held ones), or
   * until `holdMaxMs` passed: proves a client *reaches* a concurrency of N, not just stays under it.
   */
  readonly holdUntil?: number;
  /** The longest an answer is held for `holdUntil` (the tail of a run has fewer than N left). 100 ms by default. */
  readonly holdMaxMs?: number;
  readonly script?: Script;
  /** Keep every request in `requests` (true by default; turn off for benchmarks). */
  readonly record?: boolean;
  /** More tallies to count into besides the server's own, e.g. one shared by two servers. */
  readonly tallies?: readonly Tally[];
}

export interface CountingServer {
  /** http://127.0.0.1:PORT or https://127.0.0.1:PORT. */
  readonly url: string;
  readonly port: number;
  readonly tally: Tally;
  readonly requests: RecordedRequest[];
  /** Replaces the script (undefined: default replies). */
  script(script: Script | undefined): void;
  /** Destroys every connection, stalled ones included, and stops listening. */
  close(): Promise<void>;
}

export async function startCountingServer(options: CountingServerOptions = {}): Promise<CountingServer> {
  const { tls = false, delayMs = 0, record = true, tallies = [], holdUntil = 0, holdMaxMs = 100 } = options;
  let script = options.script;
  const tally = new Tally();
  const all = [tally, ...tallies];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket>();
  let n = 0;
  const held = new Set<() => void>();
  const hold = (answer: () => void): void => {
    const release = () => {
      if (held.delete(release)) answer();
    };
    held.add(release);
    if (tally.inFlight >= holdUntil) for (const r of [...held]) r();
    else setTimeout(release, holdMaxMs);
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    for (const t of all) t.requestStarted();
    res.once('close', () => {
      for (const t of all) t.requestEnded();
    });
    req.resume();
    const recorded: RecordedRequest = {
      n: ++n,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
    };
    if (record) requests.push(recorded);
    const r = script?.(recorded) ?? {};
    const wait = r.delayMs ?? delayMs;
    const answer = holdUntil > 0 ? () => hold(() => reply(res, r)) : () => reply(res, r);
    if (wait > 0) setTimeout(answer, wait);
    else answer();
  };

  const server = tls
    ? https.createServer({ key: testCertificate.key, cert: testCertificate.cert }, onRequest)
    : http.createServer(onRequest);
  server.keepAliveTimeout = 30_000;
  // A socket counts as closed at its first 'end' (the client's FIN: the client no longer holds it), 'error'
  // (a reset) or 'close'; waiting for 'close' alone would count a socket the client has let go while the server tears
  // it down, next to the one the client opened in its place.
  const closers = new Map<string, () => void>();
  const keyOf = (s: net.Socket) => `${s.remoteAddress}:${s.remotePort}`;
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    for (const t of all) t.socketOpened();
    const key = keyOf(socket);
    let open = true;
    const closed = () => {
      if (!open) return;
      open = false;
      closers.delete(key);
      for (const t of all) t.socketClosed();
    };
    closers.set(key, closed);
    socket.once('end', closed);
    socket.once('error', closed); // a reset: the client is gone as surely as with a FIN
    socket.once('close', () => {
      sockets.delete(socket);
      closed();
    });
  });
  // Under TLS the raw socket's reads go to its TLSSocket, which is where the client's FIN shows.
  server.on('secureConnection', (socket: net.Socket) => {
    const closed = closers.get(keyOf(socket));
    if (closed) {
      socket.once('end', closed);
      socket.once('error', closed);
    }
  });
  const port = await listen(server);
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    tally,
    requests,
    script(next) {
      script = next;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
