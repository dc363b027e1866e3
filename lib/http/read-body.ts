// A response body read as it streams, never more than `maxBytes` of it: a huge or endless response fails
// fast with ResponseTooLargeError (and its socket is dropped) instead of filling the heap.
import type { Readable } from 'node:stream';
import { BoundedFanoutError, ErrorCodes, TimeoutError } from '../errors.js';

export const RESPONSE_TOO_LARGE = ErrorCodes.RESPONSE_TOO_LARGE;

export class ResponseTooLargeError extends BoundedFanoutError {
  readonly maxBytes: number;
  constructor(maxBytes: number, seen: number | string) {
    super(`Response body exceeds maxBodyBytes (${maxBytes}): ${seen} bytes`, RESPONSE_TOO_LARGE);
    this.name = 'ResponseTooLargeError';
    this.maxBytes = maxBytes;
  }
}

export interface BodyRead {
  readonly bytes: number;
  /** The body as UTF-8 text, when asked to keep it. */
  readonly text?: string;
}

/**
 * Reads `body` to its end, counting bytes; keeps the chunks only when `keep`. With `withinMs`, a body still
 * arriving that long after the read began fails with TimeoutError (checked as chunks come: a stall between
 * chunks is the transport's idle timeout to catch).
 */
export function readCappedBody(
  body: Readable,
  maxBytes: number,
  keep: boolean,
  contentLength?: string | string[],
  withinMs?: number,
): Promise<BodyRead> {
  const declared = typeof contentLength === 'string' ? Number(contentLength) : Number.NaN;
  if (declared > maxBytes) {
    const error = new ResponseTooLargeError(maxBytes, `content-length ${declared}`);
    body.once('error', () => {}); // the rejection below reports it
    body.destroy(error);
    return Promise.reject(error);
  }
  const deadline = withinMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + withinMs;
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const chunks: Buffer[] | undefined = keep ? [] : undefined;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        body.destroy(new ResponseTooLargeError(maxBytes, `more than ${bytes}`));
        return;
      }
      if (performance.now() > deadline) {
        body.destroy(new TimeoutError(withinMs as number, 'Reading the response body'));
        return;
      }
      chunks?.push(chunk);
    });
    body.once('error', reject);
    body.once('end', () =>
      resolve(chunks ? { bytes, text: Buffer.concat(chunks).toString('utf8') } : { bytes }),
    );
  });
}
