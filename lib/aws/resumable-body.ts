// An S3 object's body that survives a connection lost mid-read. A manifest of a million tasks is one long
// GetObject; a connection reset or a socket timeout part-way used to end the run `failed` (manifest-error),
// since a retry of the segment would run the tasks already read again. S3 can hand over the rest of the same
// version: GetObject with `Range: bytes=<read>-` and `If-Match: <ETag>`. So the body counts the bytes it has
// handed on and, when the stream fails, asks for the rest and goes on; the reader sees one unbroken stream.
//
// How it works: the iterator reads the current body; on an error (not after `destroy`) it opens the rest and
// reads that. Each reopen waits a little longer (RESUME_DELAYS_MS) and the tries start over once bytes flow
// again, so a connection that keeps failing before any byte ends the read with its last error, as before. A
// version changed meanwhile fails the If-Match: a ManifestError, as for a continuation. An answer that is not
// the asked range to the object's end (a server that ignores Range, or answers less) is never read: the
// error stands. So does a body error that is no lost connection (the SDK's checksum of the whole body failing
// at its end): a reopen would hide it. `destroy` wakes a reopen's wait and aborts its ask.
import type { Readable } from 'node:stream';
import { setTimeout as timer } from 'node:timers/promises';
import { ManifestError } from '../manifest/errors.js';
import { httpStatusOf, letGo } from './s3-answers.js';

/** How long each successive reopen without progress waits first; their count is the tries. */
export const RESUME_DELAYS_MS = [100, 400, 1_600] as const;

/** What a reopen answered: the rest of the object from `offset`, or why not. */
export interface RangeAnswer {
  readonly body: AsyncIterable<Uint8Array>;
  /** The answer's Content-Range (`bytes <first>-<last>/<size>`). */
  readonly contentRange?: string;
}

export interface ResumableBodyOptions {
  readonly body: AsyncIterable<Uint8Array>;
  /** The object's size (the first answer's Content-Length): a read that got it all needs no reopen. */
  readonly size?: number;
  /** GetObject of the same version from byte `offset` on (Range and If-Match), given up when `signal` aborts. */
  readonly reopen: (offset: number, signal: AbortSignal) => Promise<RangeAnswer>;
  /** For the errors: s3://bucket/key. */
  readonly where: string;
  /** Waits `ms`, or less once `signal` aborts. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export class ResumableBody implements AsyncIterable<Uint8Array> {
  #body: AsyncIterable<Uint8Array>;
  readonly #size: number | undefined;
  readonly #reopen: (offset: number, signal: AbortSignal) => Promise<RangeAnswer>;
  readonly #where: string;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #offset = 0;
  /** Aborted by destroy: a reopen's wait and ask end with it. */
  readonly #letGo = new AbortController();
  /** Reopens made since the last byte arrived. */
  #tries = 0;
  /** Reopens made in all: the tests' count of what happened. */
  resumed = 0;

  constructor({ body, size, reopen, where, sleep }: ResumableBodyOptions) {
    this.#body = body;
    this.#size = size;
    this.#reopen = reopen;
    this.#where = where;
    this.#sleep = sleep ?? abortableSleep;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      let failure: unknown;
      try {
        for await (const chunk of this.#body) {
          this.#offset += chunk.byteLength;
          this.#tries = 0;
          yield chunk;
        }
        return;
      } catch (error) {
        failure = error;
      }
      const rest = await this.#rest(failure);
      if (!rest) return;
      this.#body = rest;
    }
  }

  /**
   * The rest of the object after a connection lost mid-read (undefined: there is none), reopened until it
   * comes or the tries run out; `failure` stands when it cannot be had, or is no lost connection.
   */
  async #rest(failure: unknown): Promise<AsyncIterable<Uint8Array> | undefined> {
    const { signal } = this.#letGo;
    // Any other error (the SDK's checksum of the whole body failed) is no byte missing: a reopen, a range S3
    // checks no checksum of, would only hide it.
    if (!lostConnection(failure)) throw failure;
    for (;;) {
      if (signal.aborted || this.#tries >= RESUME_DELAYS_MS.length) throw failure;
      if (this.#size !== undefined && this.#offset >= this.#size) return undefined;
      await this.#sleep(RESUME_DELAYS_MS[this.#tries], signal);
      if (signal.aborted) throw failure;
      this.#tries++;
      this.resumed++;
      let answer: RangeAnswer;
      try {
        answer = await this.#reopen(this.#offset, signal);
      } catch (error) {
        if (signal.aborted) throw failure;
        if ((error as { name?: string }).name === 'PreconditionFailed') {
          throw ManifestError.of('manifest', `${JSON.stringify(this.#where)} changed while it was read`);
        }
        // An answer (403, 404) says the rest cannot be had; no answer (a reset, a timeout) may pass.
        if (httpStatusOf(error) !== undefined) throw error;
        failure = error;
        continue;
      }
      if (!signal.aborted && this.#isRest(answer.contentRange)) return answer.body;
      letGo(answer.body);
      throw failure;
    }
  }

  /** The answer is the rest asked for: from the offset read to the object's end (when its size is known). */
  #isRest(contentRange: string | undefined): boolean {
    const size = this.#size;
    if (size === undefined) return contentRange?.startsWith(`bytes ${this.#offset}-`) === true;
    return contentRange === `bytes ${this.#offset}-${size - 1}/${size}`;
  }

  /** Nothing will read on: the body's socket is let go, and no reopen follows (one waiting or asking ends). */
  destroy(): void {
    this.#letGo.abort();
    letGo(this.#body);
  }

  /** A stream's `on`, for letGo's error guard: the current body's. */
  on(event: string, listener: (...args: unknown[]) => void): this {
    (this.#body as Partial<Readable>).on?.(event, listener);
    return this;
  }
}

/** Node's timer, ended early (not thrown) when `signal` aborts. */
const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  timer(ms, undefined, { signal }).catch(() => undefined);

/** Socket errors a body meets when its connection is lost (Node's codes; the SDK's socket timeout). */
const LOST_CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function lostConnection(error: unknown): boolean {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return name === 'TimeoutError' || (typeof code === 'string' && LOST_CONNECTION_CODES.has(code));
}
