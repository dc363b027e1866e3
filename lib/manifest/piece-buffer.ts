// One piece of a JSON manifest as the scanner captures it (a member name, a member value, a task), in slices
// as the chunks arrive: kept up to `max` bytes, then only counted, so a piece over the cap is reported by its
// size and never buffered whole. Ended, it is its text, its size when over the cap, or where it is not UTF-8.
import { utf8Fault } from './utf8.js';

/** A captured piece: its text, or its size when over the cap, or where it is not valid UTF-8. */
export interface Piece {
  readonly text?: string;
  readonly tooLongBytes?: number;
  readonly badUtf8?: string;
}

export class PieceBuffer {
  readonly #max: number;
  #parts: Buffer[] = [];
  #bytes = 0;
  #overflow = 0;

  constructor(max: number) {
    this.#max = max;
  }

  clear(): void {
    this.#parts = [];
    this.#bytes = 0;
    this.#overflow = 0;
  }

  take(slice: Buffer): void {
    if (this.#overflow > 0 || this.#bytes + slice.length > this.#max) {
      this.#overflow = (this.#overflow > 0 ? this.#overflow : this.#bytes) + slice.length;
      this.#parts = [];
      this.#bytes = 0;
    } else if (slice.length > 0) {
      this.#parts.push(slice);
      this.#bytes += slice.length;
    }
  }

  end(): Piece {
    let out: Piece;
    if (this.#overflow > 0) out = { tooLongBytes: this.#overflow };
    else {
      const bytes = Buffer.concat(this.#parts, this.#bytes);
      const badUtf8 = utf8Fault(bytes);
      out = badUtf8 === undefined ? { text: bytes.toString('utf8') } : { badUtf8 };
    }
    this.clear();
    return out;
  }
}
