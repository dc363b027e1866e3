// Splits a byte stream into lines with a cap on each line, so a manifest of a million lines (or one
// gigantic line) never sits whole in memory. node:readline has no cap: it would buffer a 1 GB line.

import { utf8Fault } from './utf8.js';

export type Chunk = Uint8Array | string;

export interface Line {
  /** 1-based line number. */
  readonly line: number;
  /** The line without its end (LF or CRLF); absent when the line was over the cap. */
  readonly text?: string;
  /** Bytes of a line that was over the cap (its text is dropped). */
  readonly tooLongBytes?: number;
  /** Where the line is not valid UTF-8 (`0xFF at byte 13`); its text then holds U+FFFD, not to be run. */
  readonly badUtf8?: string;
}

const LF = 0x0a;
const CR = 0x0d;

export async function* splitLines(chunks: AsyncIterable<Chunk> | Iterable<Chunk>, maxLineBytes: number) {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let overflow = 0;
  let lineNo = 1;
  let first = true;

  const take = (slice: Buffer): void => {
    if (overflow > 0 || partBytes + slice.length > maxLineBytes) {
      overflow = (overflow > 0 ? overflow : partBytes) + slice.length;
      parts = [];
      partBytes = 0;
      return;
    }
    if (slice.length > 0) {
      parts.push(slice);
      partBytes += slice.length;
    }
  };

  const finish = (): Line => {
    const line = lineNo++;
    if (overflow > 0) {
      const out = { line, tooLongBytes: overflow };
      overflow = 0;
      return out;
    }
    let buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, partBytes);
    parts = [];
    partBytes = 0;
    if (buf.length > 0 && buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    const badUtf8 = utf8Fault(buf);
    let text = buf.toString('utf8');
    if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    first = false;
    return badUtf8 === undefined ? { line, text } : { line, text, badUtf8 };
  };

  for await (const chunk of chunks) {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let start = 0;
    for (let at = buf.indexOf(LF, start); at !== -1; at = buf.indexOf(LF, start)) {
      take(buf.subarray(start, at));
      yield finish();
      start = at + 1;
    }
    // Copy the tail: the stream may reuse the chunk's memory once we return.
    if (start < buf.length) take(Buffer.from(buf.subarray(start)));
  }
  if (partBytes > 0 || overflow > 0) yield finish();
}
