// What the kill tests read off their counting server, and how they wait for a moment in a child's run without
// sleeping a fixed time: requests answered per task id, and a check polled until it holds.
import type { CountingServer } from '../../../bench/servers/counting-server.js';

/** Requests `server` answered per task id (the path without its slash), for ids starting with `prefix`. */
export function requestsPerId(server: CountingServer, prefix = ''): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of server.requests) {
    const id = r.path.slice(1);
    if (id.startsWith(prefix)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Polls `check` every `everyMs` until it holds; throws naming `what` after `tries` polls. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  { tries = 3_000, everyMs = 10 } = {},
): Promise<void> {
  for (let i = 0; i < tries; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}
