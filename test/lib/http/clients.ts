// Shared by the HTTP tests: one GET through each of the three bounded clients, and the guard's verdict as a
// string.
import http from 'node:http';
import https from 'node:https';
import { request } from 'undici';
import { checkDestination, DestinationRefusedError, type HttpAgents } from '../../../lib/http/index.js';

export const kinds = ['dispatcher', 'httpAgent', 'httpsAgent'] as const;
export type Kind = (typeof kinds)[number];

/** One GET through the client of `kind`; resolves to the status. */
export function get(agents: HttpAgents, kind: Kind, url: string): Promise<number> {
  if (kind === 'dispatcher') {
    return request(url, { dispatcher: agents.dispatcher }).then(async ({ statusCode, body }) => {
      await body.dump();
      return statusCode;
    });
  }
  const mod = kind === 'httpsAgent' ? https : http;
  return new Promise((resolve, reject) => {
    mod
      .get(url, { agent: agents[kind] }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      })
      .once('error', reject);
  });
}

/** The verdict as a string: 'allowed' or the refused range. */
export async function verdict(
  url: string,
  options: Parameters<typeof checkDestination>[1] = {},
): Promise<string> {
  try {
    await checkDestination(url, options);
    return 'allowed';
  } catch (error) {
    if (error instanceof DestinationRefusedError) return error.range;
    throw error;
  }
}
