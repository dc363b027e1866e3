// The local runtime's one endpoint, as LocalStack's edge port: SQS, S3, DynamoDB, Lambda and EventBridge on one
// URL, each request routed by its protocol (edge-route.ts) to the emulator or the Invoke server that plays the
// service, or answered here (EventBridge, by the in-memory bus). Bodies stream through both ways (a large S3
// object is never held whole), status, headers and bodies pass unchanged, and the Host header too: fauxqs
// builds a queue's URL from it, so queues created through here are named on this endpoint and SQS clients,
// which send each call to its QueueUrl's origin, keep coming back here. Sockets to each upstream are bounded
// by one keep-alive Agent per upstream origin; an upstream that does not answer gets a one-line 502.
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { assertInteger } from '../lib/errors.js';
import { answeredOnDisk, type S3Upstream } from './disk-object-routes.js';
import { DiskObjects } from './disk-objects.js';
import { DynamoReaders } from './dynamo-readers.js';
import { endpointUrlOf, type ListenAddress, listenAt } from './edge-listen.js';
import { isRedriveSend, passRedriveSend, type RedriveSendListener } from './edge-redrive-sends.js';
import { type Service, Services, serviceOf } from './edge-route.js';
import { EventBus } from './event-bus.js';
import { withoutHopByHop } from './hop-by-hop.js';
import { jsonError, sendJson } from './json-reply.js';
import { answerPutEvents } from './put-events-route.js';
import { readLimited } from './read-limited.js';
import { isSecretTarget, MAX_SECRET_REQUEST_BYTES, SecretStore } from './secret-store.js';
import { exchange, type UpstreamAnswer, type UpstreamRequest } from './upstream-exchange.js';

export type EdgeUpstreams = Partial<Record<Exclude<Service, 'events'>, string>>;

/** The edge's own route: what runs behind it, for `run --endpoint` and tools (LocalStack has /_localstack/health). */
export const EDGE_HEALTH_PATH = '/_bounded-fanout/health';
export const EDGE_SERVICE_NAME = 'bounded-fanout';

export interface EdgeOptions {
  /** Where each service is served; Lambda may be given later (setUpstream) once the Invoke server listens. */
  readonly upstreams: EdgeUpstreams;
  /** The bus PutEvents lands on; one of the edge's own when not given. */
  readonly eventBus?: EventBus;
  /** What GetSecretValue and GetParameter answer from (secret references); an empty one when not given. */
  readonly secretStore?: SecretStore;
  /** Where to listen; default 127.0.0.1:4566 when free, else a free port (edge-listen.ts). */
  readonly listen?: ListenAddress;
  /** Sockets open at once to one upstream server (keep-alive; more requests wait for one). 64 by default. */
  readonly maxSocketsPerUpstream?: number;
  /** What the health route reports besides the services (the stack's names, say). */
  readonly info?: () => Record<string, unknown>;
  /** S3 objects answered from files on disk, not the emulator; an empty set of the edge's own when not given. */
  readonly diskObjects?: DiskObjects;
}

const LABELS: Record<Service, string> = {
  sqs: 'SQS',
  s3: 'S3',
  dynamodb: 'DynamoDB',
  lambda: 'Lambda',
  events: 'EventBridge',
};

interface Pooled {
  readonly agent: Agent;
  open: number;
  peak: number;
}

export class Edge {
  readonly eventBus: EventBus;
  readonly secretStore: SecretStore;
  readonly diskObjects: DiskObjects;
  readonly dynamoReaders = new DynamoReaders(); // outside clients' reads: a `status --watch`
  readonly #server: Server;
  readonly #upstreams: EdgeUpstreams;
  readonly #pools = new Map<string, Pooled>();
  readonly #maxSockets: number;
  #info: () => Record<string, unknown>;
  #url: string | undefined;
  #onRedriveSend: RedriveSendListener | undefined;
  readonly #s3: S3Upstream = {
    forward: (req, res, onAnswer) => this.#forward(req, res, Services.S3, onAnswer),
    exchange: (call) => this.#exchange(Services.S3, call),
  };

  private constructor(options: EdgeOptions) {
    this.#maxSockets = assertInteger('maxSocketsPerUpstream', options.maxSocketsPerUpstream ?? 64);
    for (const url of Object.values(options.upstreams)) {
      if (url !== undefined) new URL(url); // a bad upstream fails here, not on the first request
    }
    this.#upstreams = { ...options.upstreams };
    this.eventBus = options.eventBus ?? new EventBus();
    this.secretStore = options.secretStore ?? new SecretStore();
    this.diskObjects = options.diskObjects ?? new DiskObjects();
    this.#info = options.info ?? (() => ({}));
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  /** Starts an edge and resolves once it listens. */
  static async start(options: EdgeOptions): Promise<Edge> {
    const edge = new Edge(options);
    edge.#url = endpointUrlOf(await listenAt(edge.#server, options.listen));
    return edge;
  }

  /** `http://HOST:PORT` of the endpoint. */
  get url(): string {
    return this.#url as string;
  }

  /** Points a service at another upstream (the Invoke server of the run now), or at none (502). */
  setUpstream(service: Exclude<Service, 'events'>, url: string | undefined): void {
    if (url !== undefined) new URL(url);
    this.#upstreams[service] = url;
  }

  /** What the health route reports besides the services, from now on. */
  setInfo(info: () => Record<string, unknown>): void {
    this.#info = info;
  }

  /** Who is told of each send a `redrive` makes through here, before the redrive hears its answer (none: unseen). */
  onRedriveSend(listener: RedriveSendListener | undefined): void {
    this.#onRedriveSend = listener;
  }

  /** Most sockets open at once to each upstream origin so far. */
  peakSockets(): Record<string, number> {
    return Object.fromEntries([...this.#pools].map(([origin, pool]) => [origin, pool.peak]));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    for (const pool of this.#pools.values()) pool.agent.destroy();
    this.#pools.clear();
    await this.diskObjects.close();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET' && req.url === EDGE_HEALTH_PATH) {
      this.#health(res);
      return;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    if (isSecretTarget(target)) {
      this.#secrets(req, res, target).catch((error) =>
        jsonError(res, 500, 'InternalException', String(error)),
      );
      return;
    }
    const service = serviceOf(req);
    if (service === Services.DYNAMODB) this.dynamoReaders.note(req, res);
    const listener = this.#onRedriveSend;
    if (service === Services.SQS && listener && isRedriveSend(req)) {
      const exchange = (call: UpstreamRequest) => this.#exchange(Services.SQS, call);
      passRedriveSend(req, res, exchange, listener).catch((e) =>
        jsonError(res, 500, 'InternalError', String(e)),
      );
      return;
    }
    if (service === Services.EVENTS) {
      answerPutEvents(req, res, this.eventBus).catch((error) =>
        jsonError(res, 500, 'InternalException', String(error)),
      );
      return;
    }
    if (
      service === Services.S3 &&
      this.diskObjects.size > 0 &&
      answeredOnDisk(req, res, this.diskObjects, this.#s3)
    )
      return;
    this.#forward(req, res, service);
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    service: Exclude<Service, 'events'>,
    onAnswer?: (status: number) => Promise<void> | undefined,
  ): void {
    const upstream = this.#upstreams[service];
    if (!upstream) badGateway(req, res, `no ${LABELS[service]} endpoint is running behind it`);
    else this.#proxy(req, res, service, new URL(upstream), onAnswer);
  }

  /** A request of the edge's own to an emulator (disk-object-routes.ts, a redrive's send), its answer read whole. */
  #exchange(
    service: typeof Services.S3 | typeof Services.SQS,
    call: UpstreamRequest,
  ): Promise<UpstreamAnswer> {
    const upstream = this.#upstreams[service];
    if (!upstream) return Promise.reject(new Error(`no ${LABELS[service]} endpoint is running behind it`));
    const url = new URL(upstream);
    return exchange(url, this.#pool(url.origin).agent, call);
  }

  #proxy(
    req: IncomingMessage,
    res: ServerResponse,
    service: Service,
    upstream: URL,
    onAnswer?: (status: number) => Promise<void> | undefined,
  ): void {
    const forward = request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: withoutHopByHop(req.headers),
      agent: this.#pool(upstream.origin).agent,
    });
    forward.on('response', (answer) => {
      const send = () => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, withoutHopByHop(answer.headers));
        answer.pipe(res);
      };
      answer.on('error', (error) => res.destroy(error));
      // What onAnswer does (a disk-held copy removed) is done before the client hears of the answer.
      const done = onAnswer?.(answer.statusCode ?? 502);
      if (done) done.then(send, (error) => res.destroy(error));
      else send();
    });
    forward.on('error', (error) => {
      req.unpipe(forward);
      if (res.headersSent) return void res.destroy(error);
      const code = (error as NodeJS.ErrnoException).code ?? error.message;
      badGateway(req, res, `the ${LABELS[service]} endpoint ${upstream.origin} does not answer (${code})`);
    });
    // A client that goes away mid-transfer takes the upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    req.pipe(forward);
  }

  #pool(origin: string): Pooled {
    let pool = this.#pools.get(origin);
    if (!pool) {
      const agent = new Agent({
        keepAlive: true,
        maxSockets: this.#maxSockets,
        maxFreeSockets: this.#maxSockets,
      });
      const created: Pooled = { agent, open: 0, peak: 0 };
      const connect = agent.createConnection.bind(agent);
      // Counts the sockets the agent really opens: the bound is checked on them, not on the option.
      agent.createConnection = ((...args: Parameters<typeof connect>) => {
        const socket = connect(...args) as Socket;
        created.open++;
        created.peak = Math.max(created.peak, created.open);
        socket.once('close', () => created.open--);
        return socket;
      }) as typeof agent.createConnection;
      pool = created;
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async #secrets(req: IncomingMessage, res: ServerResponse, target: string): Promise<void> {
    const body = await readLimited(req, MAX_SECRET_REQUEST_BYTES);
    const answer = this.secretStore.answer(target, body?.toString('utf8'));
    if (answer.status === 200) sendJson(res, 200, answer.body);
    else jsonError(res, answer.status, answer.type, answer.message);
  }

  #health(res: ServerResponse): void {
    const services = Object.fromEntries(
      Object.values(Services).map((s) => [
        s,
        s === Services.EVENTS || this.#upstreams[s] ? 'running' : 'down',
      ]),
    );
    sendJson(res, 200, { service: EDGE_SERVICE_NAME, endpoint: this.url, services, ...this.#info() });
  }
}

/** 502 with one line; the rest of the request body is read and dropped, and the connection closed. */
function badGateway(req: IncomingMessage, res: ServerResponse, why: string): void {
  const text = `bounded-fanout endpoint: ${why}\n`;
  res.writeHead(502, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-amzn-errortype': 'BadGateway',
    connection: 'close',
  });
  res.end(text);
  req.resume();
}
