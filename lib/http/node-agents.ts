// node:http and node:https Agents with both caps (maxSockets per origin, maxTotalSockets overall: Node's own
// accounting, which counts idle keep-alive sockets too) and, when given a guard, the destination check at
// connect time. Also used by lib/aws for the SDK's NodeHttpHandler (without a guard: AWS endpoints are ours).
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { BoundedFanoutError, ErrorCodes } from '../errors.js';
import type { DestinationGuard } from './destination-guard.js';
import type { ResolvedHttpLimits } from './limits.js';
import { shareTotalFairly } from './node-total-cap.js';

export const CONNECT_TIMEOUT = ErrorCodes.CONNECT_TIMEOUT;

/** No socket within connectTimeoutMs. Retryable. */
export class ConnectTimeoutError extends BoundedFanoutError {
  readonly timeoutMs: number;
  constructor(host: string, timeoutMs: number) {
    super(`Connecting to ${host} timed out after ${timeoutMs} ms`, CONNECT_TIMEOUT);
    this.name = 'ConnectTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** TLS settings for the https agent and the dispatcher: a private CA, or (tests only) no verification. */
export type HttpTlsOptions = Pick<ConnectionOptions, 'ca' | 'rejectUnauthorized' | 'servername'>;

type CreateConnection = (
  options: http.ClientRequestArgs,
  callback?: (err: Error | null, stream: Duplex) => void,
) => Duplex | null | undefined;

/**
 * Replaces the agent's createConnection with one that checks the destination, bounds the connect and
 * shares the total between origins (node-total-cap.ts).
 */
function instrument<A extends http.Agent>(agent: A, limits: ResolvedHttpLimits, guard?: DestinationGuard): A {
  const onClose = shareTotalFairly(agent, limits.maxSockets, limits.maxSocketsPerHost);
  const create = agent.createConnection as CreateConnection;
  const createConnection: CreateConnection = function (this: A, options, callback) {
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port) || Number((this as { defaultPort?: number }).defaultPort) || 80;
    const refused = guard?.refuseLiteral(host, port);
    if (refused) {
      // Node's Agent counts a socket only once created, so failing here holds no slot.
      callback?.(refused, undefined as unknown as Duplex);
      return undefined;
    }
    const socket = create.call(
      this,
      guard ? { ...options, lookup: guard.lookupFor(port) } : options,
      callback,
    );
    if (socket) {
      boundConnect(socket, host, limits.connectTimeoutMs);
      socket.once('close', onClose);
    }
    return socket;
  };
  agent.createConnection = createConnection as A['createConnection'];
  return agent;
}

function boundConnect(socket: Duplex, host: string, timeoutMs: number): void {
  const timer = setTimeout(() => socket.destroy(new ConnectTimeoutError(host, timeoutMs)), timeoutMs);
  timer.unref();
  const clear = () => clearTimeout(timer);
  socket.once('connect', clear);
  socket.once('close', clear);
}

export interface NodeAgents {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
}

export function createNodeAgents(
  limits: ResolvedHttpLimits,
  guard?: DestinationGuard,
  tls: HttpTlsOptions = {},
): NodeAgents {
  const options: http.AgentOptions = {
    keepAlive: true,
    maxSockets: limits.maxSocketsPerHost,
    maxTotalSockets: limits.maxSockets,
    maxFreeSockets: limits.maxSocketsPerHost,
    // The agent's socket timeout evicts idle keep-alive sockets (Node destroys a free socket on timeout).
    timeout: limits.keepAliveMs,
    scheduling: 'lifo',
  };
  return {
    httpAgent: instrument(new http.Agent(options), limits, guard),
    httpsAgent: instrument(new https.Agent({ ...options, ...tls }), limits, guard),
  };
}
