// Hand-written, part of the product: the KeyedLimiter's choice of which key goes next. A binary min-heap of
// the keys that could start a task now, ordered by the arrival number of each key's oldest waiter, so the
// next admission is the oldest admissible waiter across all keys (global FIFO among keys with room) in
// O(log keys). Each entry knows its own index, so a key leaves or moves in O(log keys) when its head
// changes, without lazy tombstones piling up.

export interface HeapEntry {
  /** Position in the heap, -1 when not in it. */
  heapIndex: number;
  /** The priority: lower goes first. */
  readonly order: number;
}

export class KeyHeap<T extends HeapEntry> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.#items[item.heapIndex] === item;
  }

  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  /** Restores order after `item.order` changed. */
  update(item: T): void {
    this.#up(item.heapIndex);
    this.#down(item.heapIndex);
  }

  remove(item: T): void {
    const index = item.heapIndex;
    const last = this.#items.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    this.#items[index] = last;
    last.heapIndex = index;
    this.#up(index);
    this.#down(last.heapIndex);
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex];
      if (parent.order <= item.order) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #down(index: number): void {
    const items = this.#items;
    const length = items.length;
    const item = items[index];
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && items[child + 1].order < items[child].order) child++;
      if (items[child].order >= item.order) break;
      items[index] = items[child];
      items[index].heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
