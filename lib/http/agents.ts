// One limits object, three clients that honour it: node:http, node:https and an undici dispatcher, each
// with the per-host and the total socket cap and the destination guard at connect time.
import type http from 'node:http';
import type https from 'node:https';
import type { Agent } from 'undici';
import type { ConnectionBudget } from './connection-budget.js';
import { DestinationGuard } from './destination-guard.js';
import { createBoundedDispatcher } from './dispatcher.js';
import { type HttpLimits, resolveHttpLimits } from './limits.js';
import { createNodeAgents, type HttpTlsOptions } from './node-agents.js';

export interface HttpAgentsOptions {
  /** Hosts, IP addresses or CIDRs the destination guard lets through although not public. */
  readonly allow?: readonly string[];
  /** Entries refused whatever `allow` says (the local runtime's own endpoints). */
  readonly refuse?: readonly string[];
  /** TLS settings for https (a private CA); the default trusts Node's CA store. */
  readonly tls?: HttpTlsOptions;
}

export interface HttpAgents {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  /** An undici Agent: pass it as `dispatcher` to undici's `request` and to runHttpTask. */
  readonly dispatcher: Agent;
  readonly guard: DestinationGuard;
  /** The dispatcher's total-socket counter (open, peak, waiting). */
  readonly budget: ConnectionBudget;
  /** Lets in-flight undici requests finish, then closes every socket. */
  close(): Promise<void>;
  /** Closes every socket now; in-flight requests fail. */
  destroy(): Promise<void>;
}

/**
 * Builds the bounded clients of one process from one limits object. Throws InvalidArgumentError naming
 * the option and value for bad limits or allowlist entries, before anything is created.
 */
export function createHttpAgents(
  limits: HttpLimits,
  { allow, refuse, tls }: HttpAgentsOptions = {},
): HttpAgents {
  const resolved = resolveHttpLimits(limits);
  const guard = new DestinationGuard({ allow, refuse });
  const { httpAgent, httpsAgent } = createNodeAgents(resolved, guard, tls);
  const { dispatcher, budget } = createBoundedDispatcher(resolved, guard, tls);
  return {
    httpAgent,
    httpsAgent,
    dispatcher,
    guard,
    budget,
    async close() {
      await dispatcher.close();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
    async destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
      await dispatcher.destroy();
    },
  };
}
