// A running orchestrator segment's heartbeat, and how a copy tells a dead holder from a live one.
//
// Each segment runs once per key under Powertools' idempotency: a second delivery of its event that finds the
// first still in progress answers `duplicate`. But an attempt that dies without a JavaScript error (out of memory,
// the process gone) never clears its record: it stays in progress until that attempt's deadline, Lambda's retries
// of the event (a minute and three minutes on) find it so and answer `duplicate`, a success, and nothing ever
// runs the segment or reports it failed: the run would stay `running` for ever. So a running segment notes it is
// alive every `segmentHeartbeatMs` (lib/aws/segment-beats.ts), and a copy that finds the segment in progress runs
// it itself when the holder has missed MISSED_BEATS beats: the holder is dead. A copy running beside a live one
// is what the segment copies are made for (lib/fanout/segment-copy.ts: only one settle counts), so a wrong guess
// costs a segment's work twice, never a count. Every attempt writes the segment's first beat before it claims the
// segment (firstBeat: only when there is none), so a holder killed just after its claim, before its own first
// beat, has one beat to go stale like any other; an attempt whose first beat cannot be written fails before its
// claim, so no holder claims with none. No beat at all (a holder from before beats) counts as alive.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SegmentBeats, SegmentIds } from '../lib/aws/segment-beats.js';
import { errorText } from '../lib/fanout/segment.js';

/** Beats a holder may miss before a copy takes its segment over. */
export const MISSED_BEATS = 3;

/**
 * The segment's first beat, written before its attempt claims it, when it has none yet: true when this attempt
 * wrote it. One that cannot be written fails the attempt, before its claim, and Lambda retries the event: a
 * holder that claimed with no beat and then died would be answered `duplicate` (a success: no retry after it,
 * no report) by a copy whose own first beat made it look alive, and its run would stay running for ever.
 */
export async function firstBeat(
  beats: SegmentBeats | undefined,
  ids: SegmentIds,
  logger: Logger,
  now: () => number = Date.now,
): Promise<boolean> {
  if (!beats) return false;
  try {
    return await beats.firstBeat(ids, now());
  } catch (error) {
    logger.error('segment first heartbeat not written: the attempt fails before its claim', {
      ...ids,
      error: errorText(error),
    });
    throw error;
  }
}

export interface HeartbeatOptions {
  /** Beat as it starts (default true); false when the attempt's first beat was just written (firstBeat). */
  readonly beatNow?: boolean;
  readonly now?: () => number;
}

/**
 * Beats now, then every `everyMs` until stopped; a beat that fails is logged, and the next one tries again. The
 * stop answers once the last beat sent has landed (or failed), or STOP_WAIT_MS on.
 */
export function startHeartbeat(
  beats: SegmentBeats,
  ids: SegmentIds,
  everyMs: number,
  logger: Logger,
  { beatNow = true, now = Date.now }: HeartbeatOptions = {},
): () => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  const beat = () => {
    last = beats.beat(ids, now()).catch((error: unknown) => {
      logger.warn('segment heartbeat not written', { ...ids, error: errorText(error) });
    });
  };
  if (beatNow) beat();
  const timer = setInterval(beat, everyMs);
  timer.unref();
  // Stopped, it also waits for a beat still on its way, so none lands after the segment has ended; for at most
  // STOP_WAIT_MS, though: a beat on a stalled connection gets its answer only at the client's socket timeout
  // (minutes, then its retries), and the segment stopped a deadline margin (seconds) before Lambda's timeout.
  return () => {
    clearInterval(timer);
    return landedOrAfter(last, Math.min(everyMs, STOP_WAIT_MS));
  };
}

/** How long a heartbeat's stop waits for a beat still on its way. */
export const STOP_WAIT_MS = 2_000;

/** Resolves when `beat` has landed (or failed), or `ms` on, whichever comes first. */
function landedOrAfter(beat: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([beat, waited]).finally(() => clearTimeout(timer));
}

/** Whether the segment's holder has missed MISSED_BEATS beats: it died, and its segment is anyone's to run. */
export async function holderDead(
  beats: SegmentBeats,
  ids: SegmentIds,
  everyMs: number,
  now: () => number = Date.now,
): Promise<boolean> {
  const last = await beats.lastBeat(ids);
  return last !== undefined && now() - last > MISSED_BEATS * everyMs;
}
