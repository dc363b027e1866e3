// A local run's endpoint goes away with its process, and `status --watch` in another terminal reads the run's
// record through it every WATCH_INTERVAL_MS: a run that ended between two of those reads left the watcher with
// "cannot reach" and no verdict. So a run whose endpoint was read in the last period (and a margin) when its job
// ended keeps the endpoint open until that client has read again, and so seen the end; at most one period and the
// margin after its last read. A run nobody reads exits at once, as before. Ctrl-C ends the wait.
import type { ReadersAtEnd } from '../dynamo-readers.js';
import type { CliIo } from './io.js';

/** How often `status --watch` reads the run again. */
export const WATCH_INTERVAL_MS = 2_000;
/**
 * A watcher's read cycle is its period plus its read's round trip and its printing, which a loaded machine
 * stretches: this covers those generously (an unwatched run never waits; a watched one at most this long).
 */
export const WATCH_MARGIN_MS = 3_000;
export const WATCH_WINDOW_MS = WATCH_INTERVAL_MS + WATCH_MARGIN_MS;

/** Waits for the clients that were reading at the end to read again, saying so on stderr when there are any. */
export async function graceForWatchers(
  atEnd: ReadersAtEnd | undefined,
  io: CliIo,
  signal: AbortSignal,
): Promise<void> {
  if (!atEnd || atEnd.watching === 0 || signal.aborted) return;
  const remaining = atEnd.remainingMs();
  if (remaining === 0) return;
  const clients = atEnd.watching === 1 ? 'a client was' : `${atEnd.watching} clients were`;
  io.stderr.write(
    `[bounded-fanout] ${clients} reading the job ledger through the endpoint (status --watch?): the endpoint stays open until ${atEnd.watching === 1 ? 'it has' : 'they have'} read the run's end, at most ${(remaining / 1000).toFixed(1)} s\n`,
  );
  await atEnd.readAgain(signal);
}
