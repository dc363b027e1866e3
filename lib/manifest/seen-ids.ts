// The task ids a manifest read has seen, each with the position (line or index) it was first seen at, in typed
// arrays rather than a Map of strings: a million 7-character ids take 25-30 MB here against 51 MB of live heap
// as a Map (each id a heap string, plus the Map's own table), and none of it is heap the collector must trace.
// Exact, never a hash alone: two ids are the same only when their UTF-16 code units are.
// Each id is written to one byte arena (a code unit below 0x80 as one byte, any other as three bytes whose first
// is 0x80-0x8f, so the encoding is one to one, lone surrogates included); an open-addressing table of entry
// numbers finds it by a 32-bit hash of those bytes, and a match is the same length and the same bytes.

const EMPTY = 0;
const MAX_LOAD = 0.7;

export class SeenIds {
  #arena = new Uint8Array(1 << 16);
  #used = 0;
  /** Entry i's bytes are arena[starts[i], starts[i + 1]). */
  #starts = new Uint32Array(1 << 12);
  /** 32-bit positions until one does not fit, then 64-bit floats (exact to 2^53). */
  #positions: Uint32Array | Float64Array = new Uint32Array(1 << 12);
  #count = 0;
  /** Entry number + 1 per slot, EMPTY for none; a power of two long. */
  #slots = new Uint32Array(1 << 13);

  get size(): number {
    return this.#count;
  }

  /**
   * The position `id` was first seen at; when it was not seen before, records it at `position` and returns
   * undefined.
   */
  firstOrAdd(id: string, position: number): number | undefined {
    this.#reserve(id.length * 3);
    const start = this.#used;
    const end = this.#encode(id, start);
    const mask = this.#slots.length - 1;
    let slot = fnv1a(this.#arena, start, end) & mask;
    for (let entry = this.#slots[slot]; entry !== EMPTY; entry = this.#slots[slot]) {
      if (this.#same(entry - 1, start, end)) return this.#positions[entry - 1];
      slot = (slot + 1) & mask;
    }
    this.#add(end, position, slot);
    return undefined;
  }

  #add(end: number, position: number, slot: number): void {
    if (this.#count + 1 >= this.#starts.length) this.#growEntries();
    if (position > 0xffffffff && this.#positions instanceof Uint32Array)
      this.#positions = Float64Array.from(this.#positions);
    const entry = this.#count++;
    this.#positions[entry] = position;
    this.#starts[entry + 1] = end;
    this.#used = end;
    this.#slots[slot] = entry + 1;
    if (this.#count > this.#slots.length * MAX_LOAD) this.#rehash();
  }

  /** Writes `id` at `at` (room already reserved); returns where it ends. */
  #encode(id: string, at: number): number {
    const arena = this.#arena;
    let end = at;
    for (let i = 0; i < id.length; i++) {
      const unit = id.charCodeAt(i);
      if (unit < 0x80) arena[end++] = unit;
      else {
        arena[end++] = 0x80 | (unit >> 12);
        arena[end++] = (unit >> 6) & 0x3f;
        arena[end++] = unit & 0x3f;
      }
    }
    return end;
  }

  #same(entry: number, start: number, end: number): boolean {
    const from = this.#starts[entry];
    if (this.#starts[entry + 1] - from !== end - start) return false;
    const arena = this.#arena;
    for (let i = 0; i < end - start; i++) if (arena[from + i] !== arena[start + i]) return false;
    return true;
  }

  #reserve(bytes: number): void {
    const needed = this.#used + bytes;
    if (needed <= this.#arena.length) return;
    if (needed > 0xffffffff) throw new RangeError('SeenIds: more than 4 GiB of task ids');
    const next = new Uint8Array(Math.min(0xffffffff, Math.max(needed, Math.floor(this.#arena.length * 1.5))));
    next.set(this.#arena.subarray(0, this.#used));
    this.#arena = next;
  }

  #growEntries(): void {
    const length = Math.floor(this.#starts.length * 1.5);
    const starts = new Uint32Array(length);
    starts.set(this.#starts);
    this.#starts = starts;
    const positions =
      this.#positions instanceof Uint32Array ? new Uint32Array(length) : new Float64Array(length);
    positions.set(this.#positions);
    this.#positions = positions;
  }

  #rehash(): void {
    const slots = new Uint32Array(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (let entry = 0; entry < this.#count; entry++) {
      let slot = fnv1a(this.#arena, this.#starts[entry], this.#starts[entry + 1]) & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.#slots = slots;
  }
}

/** 32-bit FNV-1a over arena[start, end), its bits then mixed (murmur3's finalizer) for the low-bit slot. */
function fnv1a(arena: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ arena[i], 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}
