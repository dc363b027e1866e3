// The undici dispatcher with both caps. undici's Agent gives each origin a Pool of `connections` sockets
// (the per-host cap) but has no total across origins. Its extension point for "how a socket is made" is
// the `connect` function, so the total is a ConnectionBudget in front of the connector: a connect waits
// for a slot and the slot comes back when the socket closes. That counts idle keep-alive sockets too (as
// node:http's maxTotalSockets does), so the server never sees more than maxSockets, but an origin that went
// quiet could hold the slots another origin waits for until keepAliveMs. So while a connect waits, a sweep
// closes the sockets of origins with nothing running, pending or queued (undici's public `stats`).
// The destination guard sits in the same connector: IP literals are checked before a slot is taken,
// names through the `lookup` that net.connect calls.
import type { Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { ConnectionBudget } from './connection-budget.js';
import type { DestinationGuard } from './destination-guard.js';
import type { ResolvedHttpLimits } from './limits.js';
import type { HttpTlsOptions } from './node-agents.js';

export interface BoundedDispatcher {
  readonly dispatcher: Agent;
  readonly budget: ConnectionBudget;
}

const SWEEP_EVERY_MS = 10;

interface OriginStats {
  readonly running?: number;
  readonly pending?: number;
  readonly queued?: number;
}

export function createBoundedDispatcher(
  limits: ResolvedHttpLimits,
  guard?: DestinationGuard,
  tls: HttpTlsOptions = {},
): BoundedDispatcher {
  const budget = new ConnectionBudget(limits.maxSockets);
  const connectorFor = connectorsByPort(limits, guard, tls);
  const sockets = socketsByOrigin(budget, () => dispatcher.stats as Record<string, OriginStats>);

  const connect: buildConnector.connector = (options, callback) => {
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    const refused = guard?.refuseLiteral(options.hostname, port);
    if (refused) {
      callback(refused, null);
      return;
    }
    const origin = `${options.protocol}//${options.host}`;
    budget.acquire((release) => {
      connectorFor(port)(options, (err, socket) => {
        if (err || !socket) {
          release();
          callback(err ?? new Error('connector returned no socket'), null);
          return;
        }
        sockets.track(origin, socket as Socket, release);
        callback(null, socket);
      });
    });
    sockets.sweepWhileWaiting();
  };

  const dispatcher = new Agent({
    connections: limits.maxSocketsPerHost,
    connect,
    keepAliveTimeout: limits.keepAliveMs,
    // A server's keep-alive hint may not stretch an idle socket's hold on a slot past keepAliveMs.
    keepAliveMaxTimeout: limits.keepAliveMs,
    headersTimeout: limits.requestTimeoutMs,
    bodyTimeout: limits.requestTimeoutMs,
  });
  return { dispatcher, budget };
}

/**
 * net gives a lookup no port, and allow entries may name one: one connector per port, each with the
 * guard's lookup for that port (a handful of ports in practice).
 */
function connectorsByPort(
  limits: ResolvedHttpLimits,
  guard: DestinationGuard | undefined,
  tls: HttpTlsOptions,
): (port: number) => buildConnector.connector {
  const connectors = new Map<number, buildConnector.connector>();
  return (port) => {
    let connector = connectors.get(port);
    if (!connector) {
      connector = buildConnector({
        timeout: limits.connectTimeoutMs,
        ...tls,
        ...(guard ? { lookup: guard.lookupFor(port) } : {}),
      } as buildConnector.BuildOptions);
      connectors.set(port, connector);
    }
    return connector;
  };
}

/**
 * The open sockets by origin, each giving its slot back when it closes; and, while a connect waits for a
 * slot, the sweep that closes the sockets of origins with nothing running, pending or queued.
 */
function socketsByOrigin(budget: ConnectionBudget, statsOf: () => Record<string, OriginStats>) {
  const byOrigin = new Map<string, Set<Socket>>();
  let sweeper: NodeJS.Timeout | undefined;

  const track = (origin: string, socket: Socket, release: () => void): void => {
    let set = byOrigin.get(origin);
    if (!set) {
      set = new Set();
      byOrigin.set(origin, set);
    }
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && byOrigin.get(origin) === set) byOrigin.delete(origin);
      release();
    });
  };

  const sweep = (): void => {
    let need = budget.waiting;
    if (need === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
      return;
    }
    for (const set of byOrigin.values()) for (const s of set) if (s.destroyed) need--;
    const stats = statsOf();
    for (const [origin, set] of byOrigin) {
      if (need <= 0) return;
      const s = stats[origin];
      if (s && (s.running ?? 0) + (s.pending ?? 0) + (s.queued ?? 0) > 0) continue;
      for (const socket of set) {
        if (need <= 0) return;
        if (socket.destroyed) continue;
        socket.destroy();
        need--;
      }
    }
  };

  /** Starts the sweep when a connect waits for a slot; it stops itself once none waits. */
  const sweepWhileWaiting = (): void => {
    if (budget.waiting > 0 && !sweeper) {
      sweeper = setInterval(sweep, SWEEP_EVERY_MS);
      sweeper.unref();
      sweep();
    }
  };

  return { track, sweepWhileWaiting };
}
