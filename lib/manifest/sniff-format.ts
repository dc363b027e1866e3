// Telling NDJSON from JSON by a manifest's first line (lib/manifest/format.ts's rule), without losing it: the
// bytes read up to the first line break are replayed ahead of the rest of the stream.
import { type DeclaredFormat, type ManifestFormat, resolveFormat } from './format.js';
import type { Chunk } from './split-lines.js';

/** Reads up to the first line break to tell NDJSON from JSON, and hands back a stream that replays it. */
export async function sniffFormat(
  chunks: AsyncIterable<Chunk> | Iterable<Chunk>,
  maxBytes: number,
  declared: DeclaredFormat,
): Promise<[ManifestFormat, AsyncIterable<Chunk>]> {
  const iterator = (chunks as AsyncIterable<Chunk>)[Symbol.asyncIterator]
    ? (chunks as AsyncIterable<Chunk>)[Symbol.asyncIterator]()
    : toAsync(chunks as Iterable<Chunk>);
  const seen: Buffer[] = [];
  let bytes = 0;
  let done = false;
  while (bytes <= maxBytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const buf = typeof next.value === 'string' ? Buffer.from(next.value) : Buffer.from(next.value);
    seen.push(buf);
    bytes += buf.length;
    if (buf.includes(0x0a)) break;
  }
  const head = Buffer.concat(seen)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
  const format = resolveFormat(head.split('\n', 1)[0], declared);
  const replay = (async function* () {
    yield* seen;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  })();
  return [format, replay];
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
