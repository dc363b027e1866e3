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
import net from 'node:net';

/** Counters updated synchronously on every socket and request event. */
export class Tally {
  sockets = 0;
  peakSockets = 0;
  inFlight = 0;
  peakInFlight = 0;
  /** Sockets accepted in all. */
  connections = 0;
  /** Requests received in all. */
  requests = 0;

  socketOpened(): void {
    this.connections++;
    if (++this.sockets > this.peakSockets) this.peakSockets = this.sockets;
  }
  socketClosed(): void {
    this.sockets--;
  }
  requestStarted(): void {
    this.requests++;
    if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
  }
  requestEnded(): void {
    this.inFlight--;
  }
  /** Peaks and totals back to the current state (open sockets stay counted). */
  reset(): void {
    this.peakSockets = this.sockets;
    this.peakInFlight = this.inFlight;
    this.connections = 0;
    this.requests = 0;
  }
}

export function createTally(): Tally {
  return new Tally();
}

export interface ScriptedReply {
  /** 200 unless given. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** "ok" unless given. */
  readonly body?: string | Buffer;
  /** Stream this many bytes of body (in 64 KiB chunks) instead of `body`: the oversized response. */
  readonly bodyBytes?: number;
  /** Wait this long before answering (overrides the server's `delayMs`). */
  readonly delayMs?: number;
  /** Send `body` (or "x") this many times, `everyMs` apart: a slow trickle of a body. */
  readonly trickle?: { readonly chunks: number; readonly everyMs: number };
  /** Reset the connection (TCP RST) instead of answering. */
  readonly reset?: boolean;
  /** `headers`: never answer; `body`: send the headers and one chunk, then nothing. Ended by close(). */
  readonly stall?: 'headers' | 'body';
}

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

/** A self-signed EC certificate for localhost, 127.0.0.1 and ::1, valid until 2126. For tests only. */
export const testCertificate = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwHFHs18ZD6TAO1gn
VFowEJxF6lYKMhCDkZ/b52ylWXmhRANCAAQLaP/QRb9TNl3uLGGz/vl6RuU7lAql
Woi5PBafApurCpE9gY/w1fxa+9U1p15LDLIeL13w64759zqez7kRSIqL
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBrzCCAVSgAwIBAgIUMZdiquk0l/32kdwvvrtW+B2UWR8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTA5MzQ0MVoYDzIxMjYxMTAx
MDkzNDQxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQLaP/QRb9TNl3uLGGz/vl6RuU7lAqlWoi5PBafApurCpE9gY/w1fxa
+9U1p15LDLIeL13w64759zqez7kRSIqLo4GBMH8wHQYDVR0OBBYEFJpxY/cWJfS3
f3XtEM0SzDlNIrrAMB8GA1UdIwQYMBaAFJpxY/cWJfS3f3XtEM0SzDlNIrrAMA8G
A1UdEwEB/wQFMAMBAf8wLAYDVR0RBCUwI4IJbG9jYWxob3N0hwR/AAABhxAAAAAA
AAAAAAAAAAAAAAABMAoGCCqGSM49BAMCA0kAMEYCIQDZUeMPpH3o8rX/Xo60xCHn
xLES4GNbMnwLnGt3QfRKwQIhAPwJ2QbmRYaSN3y7eUl+Z/goXJQCZZUYPfzejykf
vNCO
-----END CERTIFICATE-----
`,
} as const;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function reply(res: http.ServerResponse, r: ScriptedReply): void {
  if (r.reset) {
    res.socket?.resetAndDestroy();
    return;
  }
  if (r.stall === 'headers') return;
  res.writeHead(r.status ?? 200, { 'content-type': 'text/plain', ...r.headers });
  if (r.stall === 'body') {
    res.write('partial');
    return;
  }
  if (r.trickle) {
    let left = r.trickle.chunks;
    const timer = setInterval(() => {
      if (res.destroyed || left-- <= 0) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(r.body ?? 'x');
    }, r.trickle.everyMs);
    return;
  }
  if (r.bodyBytes === undefined) {
    res.end(r.body ?? 'ok');
    return;
  }
  const chunk = Buffer.alloc(64 * 1024, 120);
  let left = r.bodyBytes;
  const pump = (): void => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
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

export interface CountingProxy {
  /** http://127.0.0.1:PORT, forwarding to the target. */
  readonly url: string;
  readonly port: number;
  /** Client connections through the proxy (`inFlight` is not counted: the proxy sees bytes, not requests). */
  readonly tally: Tally;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 to `target` (a URL or a port on 127.0.0.1) counting its client connections,
 * into its own tally and any `tallies` given (one shared by several proxies counts their sum).
 */
export async function startCountingProxy(
  target: string | number,
  { tallies = [] }: { readonly tallies?: readonly Tally[] } = {},
): Promise<CountingProxy> {
  const { hostname, port: targetPort } =
    typeof target === 'number' ? { hostname: '127.0.0.1', port: String(target) } : new URL(target);
  const tally = new Tally();
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const all = [tally, ...tallies];
  const server = net.createServer((client) => {
    for (const t of all) t.socketOpened();
    let open = true;
    const closed = () => {
      if (!open) return;
      open = false;
      for (const t of all) t.socketClosed();
    };
    // As in startCountingServer: closed at the client's FIN, a reset, or the close.
    client.once('end', closed);
    client.once('error', closed);
    client.once('close', closed);
    const upstream = net.connect(Number(targetPort), hostname === 'localhost' ? '127.0.0.1' : hostname);
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', end);
    upstream.once('error', end);
    client.once('close', end);
    upstream.once('close', end);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tally,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
