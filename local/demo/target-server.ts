// The demo's target: a real HTTP server on 127.0.0.1 that behaves as each request's query asks and counts, on
// its own side, the sockets open and the requests in flight at every moment, so a run's peaks can be checked
// against what the server actually saw.
//   GET /task/<id>?ms=40            answers 200 after 40 ms
//   GET /task/<id>?throttle=2       answers 429 with Retry-After to the first 2 requests for this path, then 200
//   GET /task/<id>?fail=500         always answers 500 (a permanent failure)
//   GET /task/<id>?via=inline       counted among the requests in flight tagged `inline` (see inFlightOf)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { assertInteger } from '../../lib/errors.js';
import { LatencyHistogram } from '../report/latency.js';
import type { LatencyHistogramData } from '../report/types.js';

export interface TargetServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port?: number;
  /** Seconds announced in Retry-After on a 429. */
  readonly retryAfterSeconds?: number;
  /** Upper bound on the delay a request may ask for. */
  readonly maxDelayMs?: number;
}

export interface TargetStats {
  readonly requests: number;
  readonly inFlight: number;
  readonly peakInFlight: number;
  readonly openSockets: number;
  readonly peakSockets: number;
  readonly connections: number;
  /** Responses by status code. */
  readonly statuses: Readonly<Record<string, number>>;
}

export class TargetServer {
  readonly #server: Server;
  readonly #retryAfterSeconds: number;
  readonly #maxDelayMs: number;
  readonly #sockets = new Set<Socket>();
  /** 429s still owed per throttled path (kept at 0 once paid, so a redelivered task is not throttled again). */
  readonly #throttled = new Map<string, number>();
  readonly #statuses: Record<string, number> = {};
  /** Requests in flight now by their `via` tag. */
  readonly #inFlightByTag = new Map<string, number>();
  /** Time from each request's arrival to its response, as this server saw it. */
  readonly #latency = new LatencyHistogram();
  #requests = 0;
  #inFlight = 0;
  #peakInFlight = 0;
  #peakSockets = 0;
  #connections = 0;

  private constructor(retryAfterSeconds: number, maxDelayMs: number) {
    this.#retryAfterSeconds = retryAfterSeconds;
    this.#maxDelayMs = maxDelayMs;
    this.#server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => this.#handle(req, res));
    this.#server.on('connection', (socket: Socket) => {
      this.#connections++;
      this.#sockets.add(socket);
      if (this.#sockets.size > this.#peakSockets) this.#peakSockets = this.#sockets.size;
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start({
    port = 0,
    retryAfterSeconds = 1,
    maxDelayMs = 30_000,
  }: TargetServerOptions = {}): Promise<TargetServer> {
    assertInteger('port', port, { min: 0 });
    assertInteger('retryAfterSeconds', retryAfterSeconds, { min: 0 });
    assertInteger('maxDelayMs', maxDelayMs, { min: 0 });
    const target = new TargetServer(retryAfterSeconds, maxDelayMs);
    await new Promise<void>((resolve, reject) => {
      target.#server.once('error', reject);
      target.#server.listen(port, '127.0.0.1', () => resolve());
    });
    return target;
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  stats(): TargetStats {
    return {
      requests: this.#requests,
      inFlight: this.#inFlight,
      peakInFlight: this.#peakInFlight,
      openSockets: this.#sockets.size,
      peakSockets: this.#peakSockets,
      connections: this.#connections,
      statuses: { ...this.#statuses },
    };
  }

  /** Requests in flight now that carry `?via=<tag>` (the demo tags the tasks the orchestrator runs inline). */
  inFlightOf(tag: string): number {
    return this.#inFlightByTag.get(tag) ?? 0;
  }

  /** Response times of every answered request, from arrival to the response being written. */
  latency(): LatencyHistogramData {
    return this.#latency.toJSON();
  }

  async close(): Promise<void> {
    // The server's close callback can come before its sockets' own close events: wait for both, so the
    // socket count reads 0 once this resolves.
    const socketsClosed = [...this.#sockets].map(
      (socket) => new Promise((resolve) => socket.once('close', resolve)),
    );
    if (this.#server.listening) {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await closed;
    }
    await Promise.all(socketsClosed);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://target');
    const params = url.searchParams;
    const tag = params.get('via');
    const arrived = performance.now();
    this.#requests++;
    this.#inFlight++;
    if (this.#inFlight > this.#peakInFlight) this.#peakInFlight = this.#inFlight;
    if (tag) this.#inFlightByTag.set(tag, (this.#inFlightByTag.get(tag) ?? 0) + 1);
    let left = false;
    // Once per request, whether it is answered or the client gives up first.
    const leave = () => {
      if (left) return false;
      left = true;
      this.#inFlight--;
      if (tag) this.#inFlightByTag.set(tag, (this.#inFlightByTag.get(tag) ?? 1) - 1);
      return true;
    };
    const end = (status: number, body: string, headers: Record<string, string> = {}) => {
      if (!leave()) return;
      this.#statuses[status] = (this.#statuses[status] ?? 0) + 1;
      this.#latency.record(performance.now() - arrived);
      if (res.destroyed) return;
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...headers,
      });
      res.end(body);
    };
    res.on('close', leave);
    const delay = Math.min(this.#maxDelayMs, Math.max(0, Number(params.get('ms')) || 0));
    const respond = () => this.#respond(url.pathname, params, end);
    // Drain any request body so keep-alive sockets stay usable.
    req.resume();
    if (delay > 0) setTimeout(respond, delay);
    else respond();
  }

  #respond(
    path: string,
    params: URLSearchParams,
    end: (status: number, body: string, headers?: Record<string, string>) => void,
  ): void {
    const fail = Number(params.get('fail'));
    if (fail >= 400 && fail <= 599) {
      end(fail, JSON.stringify({ error: `permanent failure ${fail}` }));
      return;
    }
    const throttle = Number(params.get('throttle')) || 0;
    if (throttle > 0) {
      const owed = this.#throttled.get(path) ?? throttle;
      if (owed > 0) {
        this.#throttled.set(path, owed - 1);
        end(429, JSON.stringify({ error: 'slow down' }), { 'retry-after': String(this.#retryAfterSeconds) });
        return;
      }
    }
    end(200, JSON.stringify({ ok: true, path }));
  }
}
