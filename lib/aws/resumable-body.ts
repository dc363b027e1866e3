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
// the asked range (a server that ignores Range) is never read: the error stands.
import type { Readable } from 'node:stream';
import { ManifestError } from '../manifest/errors.js';

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
  /** GetObject of the same version from byte `offset` on (Range and If-Match). */
  readonly reopen: (offset: number) => Promise<RangeAnswer>;
  /** For the errors: s3://bucket/key. */
  readonly where: string;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class ResumableBody implements AsyncIterable<Uint8Array> {
  #body: AsyncIterable<Uint8Array>;
  readonly #size: number | undefined;
  readonly #reopen: (offset: number) => Promise<RangeAnswer>;
  readonly #where: string;
  readonly #sleep: (ms: number) => Promise<void>;
  #offset = 0;
  #destroyed = false;
  /** Reopens made since the last byte arrived. */
  #tries = 0;
  /** Reopens made in all: the tests' count of what happened. */
  resumed = 0;

  constructor({ body, size, reopen, where, sleep }: ResumableBodyOptions) {
    this.#body = body;
    this.#size = size;
    this.#reopen = reopen;
    this.#where = where;
    this.#sleep = sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
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
   * The rest of the object after a failed read (undefined: there is none), reopened until it comes or the
   * tries run out; `failure`, the last transport error, stands when it cannot be had.
   */
  async #rest(failure: unknown): Promise<AsyncIterable<Uint8Array> | undefined> {
    for (;;) {
      if (this.#destroyed || this.#tries >= RESUME_DELAYS_MS.length) throw failure;
      if (this.#size !== undefined && this.#offset >= this.#size) return undefined;
      await this.#sleep(RESUME_DELAYS_MS[this.#tries]);
      this.#tries++;
      this.resumed++;
      let answer: RangeAnswer;
      try {
        answer = await this.#reopen(this.#offset);
      } catch (error) {
        if ((error as { name?: string }).name === 'PreconditionFailed') {
          throw ManifestError.of('manifest', `${JSON.stringify(this.#where)} changed while it was read`);
        }
        // An answer (403, 404) says the rest cannot be had; no answer (a reset, a timeout) may pass.
        if (statusOf(error) !== undefined) throw error;
        failure = error;
        continue;
      }
      if (!this.#destroyed && answer.contentRange?.startsWith(`bytes ${this.#offset}-`)) return answer.body;
      letGoOf(answer.body);
      throw failure;
    }
  }

  /** Nothing will read on: the body's socket is let go, and no reopen follows. */
  destroy(): void {
    this.#destroyed = true;
    letGoOf(this.#body);
  }

  /** A stream's `on`, for letGo's error guard: the current body's. */
  on(event: string, listener: (...args: unknown[]) => void): this {
    (this.#body as Partial<Readable>).on?.(event, listener);
    return this;
  }
}

const statusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

function letGoOf(body: unknown): void {
  const stream = body as Partial<Readable>;
  stream.on?.('error', () => {});
  stream.destroy?.();
}
