// The lines of a journal file (local/queue-journal.ts), read in chunks: a long run's journal may outgrow the
// longest string V8 makes (512 MiB: every message body sent, once more for each resume), which one read of the
// whole file would need. A line is at most a message body escaped once more (SQS's 256 KiB, at most about
// seven times longer escaped); one longer than MAX_LINE_BYTES is no journal line, and is refused.
import { closeSync, openSync, readSync } from 'node:fs';

const CHUNK_BYTES = 1 << 20;
export const MAX_LINE_BYTES = 8 << 20;

/** The file's lines without their newlines, numbered from 1; the last one even without a newline. */
export function* journalLines(file: string): Generator<{ readonly text: string; readonly number: number }> {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(CHUNK_BYTES);
    let pending: Buffer[] = [];
    let number = 0;
    // The line so far: the pending parts and `tail`, refused once longer than any journal line.
    const line = (tail: Buffer): Buffer => {
      const bytes = pending.reduce((sum, part) => sum + part.length, tail.length);
      if (bytes > MAX_LINE_BYTES) {
        throw new Error(
          `${file}: line ${number + 1} is longer than ${MAX_LINE_BYTES} bytes: not a journal line (is the state directory's journal corrupted?)`,
        );
      }
      return Buffer.concat([...pending, tail]);
    };
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) {
      const data = chunk.subarray(0, read);
      let start = 0;
      for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
        const text = line(data.subarray(start, end)).toString('utf8');
        number += 1;
        pending = [];
        start = end + 1;
        yield { text, number };
      }
      pending = [line(Buffer.from(data.subarray(start)))];
    }
    if (pending[0]?.length) yield { text: pending[0].toString('utf8'), number: number + 1 };
  } finally {
    closeSync(fd);
  }
}
