import { assertInteger, InvalidArgumentError } from '../errors.js';

/**
 * Groups items under a count cap and a byte cap, as they stream in: tasks into SQS messages (25 tasks,
 * 256 KiB), messages into SendMessageBatch calls (10 entries, 256 KiB in all). One concept for both.
 * `overheadBytes` is what every group costs besides its items (a message's envelope), `separatorBytes`
 * what each item after the first adds (a comma in a JSON array).
 */
export interface BatcherOptions {
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly overheadBytes?: number;
  readonly separatorBytes?: number;
}

export interface Group<T> {
  readonly items: T[];
  /** Bytes of the items, separators and overhead. */
  readonly bytes: number;
}

export class Batcher<T> {
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #overhead: number;
  readonly #separator: number;
  #items: T[] = [];
  #bytes = 0;

  constructor({ maxItems, maxBytes, overheadBytes = 0, separatorBytes = 0 }: BatcherOptions) {
    this.#maxItems = assertInteger('maxItems', maxItems);
    this.#maxBytes = assertInteger('maxBytes', maxBytes);
    this.#overhead = assertInteger('overheadBytes', overheadBytes, { min: 0 });
    this.#separator = assertInteger('separatorBytes', separatorBytes, { min: 0 });
    if (this.#overhead >= this.#maxBytes) {
      throw new InvalidArgumentError('overheadBytes', overheadBytes, `below maxBytes (${maxBytes})`);
    }
  }

  /** Bytes the largest single item may have. */
  get maxItemBytes(): number {
    return this.#maxBytes - this.#overhead;
  }

  get size(): number {
    return this.#items.length;
  }

  /**
   * Adds an item of `bytes` bytes. Returns the group that is complete because of it: the previous group
   * when this item would not fit beside it, or the current one when the item filled it to `maxItems`.
   * At most one group per call, since a group closed for bytes leaves this item alone in a new one.
   */
  add(item: T, bytes: number): Group<T> | undefined {
    if (bytes > this.maxItemBytes) {
      throw new InvalidArgumentError(
        'bytes',
        bytes,
        `at most ${this.maxItemBytes} (one item must fit one group)`,
      );
    }
    let closed: Group<T> | undefined;
    if (this.#items.length > 0 && this.#overhead + this.#bytes + this.#separator + bytes > this.#maxBytes) {
      closed = this.flush();
    }
    this.#bytes += (this.#items.length > 0 ? this.#separator : 0) + bytes;
    this.#items.push(item);
    if (this.#items.length >= this.#maxItems) return closed ?? this.flush();
    return closed;
  }

  /** The group gathered so far, if any; the batcher starts empty again. */
  flush(): Group<T> | undefined {
    if (this.#items.length === 0) return undefined;
    const group = { items: this.#items, bytes: this.#overhead + this.#bytes };
    this.#items = [];
    this.#bytes = 0;
    return group;
  }
}
