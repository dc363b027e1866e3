// A real HTTP target on 127.0.0.1, counting requests, whose `/stall/` paths leave a task's first request
// unanswered (for a minute: longer than any test waits) and answer later ones at once: a host that stalls
// for the orchestrator's copy of a task, then recovers. Shared by the tests of the segment's cutoff.
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';

export async function startStallingServer(): Promise<CountingServer> {
  const server = await startCountingServer({ delayMs: 1 });
  const stalled = new Set<string>();
  server.script((req) => {
    if (!req.path.includes('/stall/') || stalled.has(req.path)) return undefined;
    stalled.add(req.path);
    return { delayMs: 60_000 };
  });
  return server;
}
