import { ManifestError } from './errors.js';
import { type Piece, PieceBuffer } from './piece-buffer.js';
import type { Chunk } from './split-lines.js';

/*
A streaming scanner for a JSON manifest `{ "jobId": ..., "tasks": [ {...}, {...} ] }`. It only finds the
boundaries of the top-level members and of each element of `tasks` (tracking strings, escapes and
nesting); JSON.parse does the parsing of each piece. So a million-task document costs memory for one task
at a time, and parsing runs at native speed. (stream-json would assemble every value token by token.)
A piece over `maxValueBytes` is reported by size and skipped, never buffered.
*/

export type ScanEvent =
  | ({ readonly type: 'member'; readonly key: string } & Piece)
  | { readonly type: 'tasks-start' }
  | ({ readonly type: 'element'; readonly line: number } & Piece)
  | { readonly type: 'tasks-end' };

const State = {
  START: 0,
  KEY: 1,
  IN_KEY: 2,
  COLON: 3,
  VALUE: 4,
  CAPTURE: 5,
  AFTER_MEMBER: 6,
  ELEMENT: 7,
  AFTER_ELEMENT: 8,
  DONE: 9,
} as const;
type StateValue = (typeof State)[keyof typeof State];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LF = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === LF || b === 0x0d;

export class JsonManifestScanner {
  // The piece being captured (a key, a member value or an element), cut off past the cap.
  readonly #piece: PieceBuffer;
  #state: StateValue = State.START;
  #line = 1;
  #firstMember = true;
  #firstElement = true;
  #key = '';
  #inTasks = false;
  #captureLine = 1;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** Bytes of the BOM matched, and bytes seen, before the first "{". */
  #bom = 0;
  #started = 0;

  constructor(maxValueBytes: number) {
    this.#piece = new PieceBuffer(maxValueBytes);
  }

  feed(chunk: Buffer): ScanEvent[] {
    const events: ScanEvent[] = [];
    let captureFrom = -1;
    if (this.#state === State.CAPTURE || this.#state === State.IN_KEY) captureFrom = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === LF) this.#line++;
      switch (this.#state) {
        case State.KEY:
          if (this.#startsKey(b)) captureFrom = i;
          break;
        case State.IN_KEY:
          if (this.#escaped) this.#escaped = false;
          else if (b === BACKSLASH) this.#escaped = true;
          else if (b === QUOTE) {
            this.#endKey(chunk.subarray(captureFrom, i + 1));
            captureFrom = -1;
          }
          break;
        case State.VALUE:
        case State.ELEMENT:
          if (!this.#startsPiece(b, events)) break;
          this.#beginCapture();
          captureFrom = i;
          i = this.#capture(chunk, i, events, captureFrom) - 1;
          if (!this.#capturing()) captureFrom = -1;
          break;
        case State.CAPTURE:
          i = this.#capture(chunk, i, events, captureFrom) - 1;
          if (!this.#capturing()) captureFrom = -1;
          break;
        case State.AFTER_ELEMENT:
          if (isSpace(b)) break;
          if (b === COMMA) {
            this.#firstElement = false;
            this.#state = State.ELEMENT;
          } else if (b === RBRACKET) {
            events.push({ type: 'tasks-end' });
            this.#state = State.AFTER_MEMBER;
          } else this.#fail('"," or "]" after a task');
          break;
        default:
          this.#betweenMembers(b);
      }
    }
    // Keep the unfinished piece: copied, since the stream may reuse the chunk's memory.
    if (captureFrom !== -1) this.#piece.take(Buffer.from(chunk.subarray(captureFrom)));
    return events;
  }

  /** True while the scan is inside a string (a key or a string value): no valid JSON breaks a line there. */
  get inString(): boolean {
    return this.#state === State.IN_KEY || (this.#state === State.CAPTURE && this.#inString);
  }

  /** Checks the document was complete. */
  end(): void {
    if (this.#state !== State.DONE) this.#fail('more input: the manifest ends early', true);
  }

  /**
   * Scans a member value or a task from `from`; returns the index after the scan. The piece ends at a
   * "," "}" or "]" outside strings and at its own nesting level.
   */
  #capture(chunk: Buffer, from: number, events: ScanEvent[], captureFrom: number): number {
    this.#state = State.CAPTURE;
    for (let i = from; i < chunk.length; i++) {
      const b = chunk[i];
      if (i !== from && b === LF) this.#line++;
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (b === BACKSLASH) this.#escaped = true;
        else if (b === QUOTE) this.#inString = false;
        continue;
      }
      if (b === QUOTE) this.#inString = true;
      else if (b === LBRACE || b === LBRACKET) this.#depth++;
      else if (b === RBRACE || b === RBRACKET || b === COMMA) {
        if (this.#depth > 0) {
          if (b !== COMMA) this.#depth--;
          continue;
        }
        this.#piece.take(chunk.subarray(captureFrom, i));
        const piece = this.#piece.end();
        if (this.#inTasks) {
          events.push({ type: 'element', line: this.#captureLine, ...piece });
          this.#state = State.AFTER_ELEMENT;
        } else {
          events.push({ type: 'member', key: this.#key, ...piece });
          this.#state = State.AFTER_MEMBER;
        }
        // The closing byte goes back to the state that follows.
        return i;
      }
    }
    return chunk.length;
  }

  /** In KEY: true when `b` opens a member name (its capture starts here). */
  #startsKey(b: number): boolean {
    if (isSpace(b)) return false;
    if (b === RBRACE && this.#firstMember) {
      this.#state = State.DONE;
      return false;
    }
    if (b !== QUOTE) this.#fail('a member name in double quotes');
    this.#beginCapture();
    this.#inString = true;
    this.#state = State.IN_KEY;
    return true;
  }

  /** The member name's closing quote: `rest` is the name's last bytes, up to and with the quote. */
  #endKey(rest: Buffer): void {
    this.#piece.take(rest);
    const raw = this.#piece.end();
    if (raw.badUtf8) {
      throw ManifestError.of(
        'manifest',
        `has a member name at line ${this.#line} that is not valid UTF-8 (${raw.badUtf8})`,
      );
    }
    this.#key = this.#parseKey(raw.text);
    this.#state = State.COLON;
  }

  /**
   * In VALUE or ELEMENT: true when `b` starts a piece to capture (a member value or a task). The "[" of
   * `tasks` and the "]" of an empty `tasks` are events of their own; whitespace waits.
   */
  #startsPiece(b: number, events: ScanEvent[]): boolean {
    if (isSpace(b)) return false;
    if (this.#state === State.ELEMENT) {
      if (b !== RBRACKET || !this.#firstElement) return true;
      events.push({ type: 'tasks-end' });
      this.#state = State.AFTER_MEMBER;
      return false;
    }
    if (this.#key === 'tasks' && b === LBRACKET) {
      events.push({ type: 'tasks-start' });
      this.#inTasks = true;
      this.#firstElement = true;
      this.#state = State.ELEMENT;
      return false;
    }
    this.#inTasks = false;
    return true;
  }

  /** START, COLON, AFTER_MEMBER and DONE: the object's own punctuation, around its members. */
  #betweenMembers(b: number): void {
    switch (this.#state) {
      case State.START:
        this.#atStart(b);
        break;
      case State.COLON:
        if (isSpace(b)) break;
        if (b !== COLON) this.#fail('":" after a member name');
        this.#state = State.VALUE;
        break;
      case State.AFTER_MEMBER:
        if (isSpace(b)) break;
        if (b === COMMA) {
          this.#firstMember = false;
          this.#state = State.KEY;
        } else if (b === RBRACE) this.#state = State.DONE;
        else this.#fail('"," or "}" after a member');
        break;
      default:
        if (!isSpace(b)) this.#fail('the end of the manifest after its closing "}"');
    }
  }

  // A UTF-8 BOM, whole and first, then whitespace: any other byte before "{" is a fault.
  #atStart(b: number): void {
    if (this.#bom < 3 && this.#started === this.#bom && b === BOM[this.#bom]) {
      this.#bom++;
      this.#started++;
      return;
    }
    this.#started++;
    if (this.#bom !== 0 && this.#bom !== 3) this.#fail('a whole UTF-8 byte order mark');
    if (isSpace(b)) return;
    if (b !== LBRACE) this.#fail('a JSON object starting with "{"');
    this.#state = State.KEY;
  }

  #parseKey(text: string | undefined): string {
    if (text === undefined) this.#fail('a member name of at most the piece limit');
    try {
      return JSON.parse(text) as string;
    } catch {
      this.#fail('a member name that is a valid JSON string');
    }
  }

  #capturing(): boolean {
    return this.#state === State.CAPTURE;
  }

  #beginCapture(): void {
    this.#piece.clear();
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
    this.#captureLine = this.#line;
  }

  #fail(expected: string, atEnd = false): never {
    const where = atEnd ? 'at the end' : `at line ${this.#line}`;
    throw ManifestError.of('manifest', `is not valid JSON ${where}: expected ${expected}`);
  }
}

/** The scanner over a stream of chunks. */
export async function* scanJson(chunks: AsyncIterable<Chunk> | Iterable<Chunk>, maxValueBytes: number) {
  const scanner = new JsonManifestScanner(maxValueBytes);
  for await (const chunk of chunks) {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    yield* scanner.feed(buf);
  }
  scanner.end();
}
