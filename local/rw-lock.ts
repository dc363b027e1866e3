// A readers-writer lock, first come first served: holders of the shared side run together, the exclusive
// side runs alone. A waiter never overtakes an earlier one, so a steady stream of shared holders cannot
// starve an exclusive one (the DynamoDB front's transactions wait behind at most the writes already in).

interface Waiter {
  readonly exclusive: boolean;
  readonly grant: () => void;
}

export class RwLock {
  #shared = 0;
  #exclusive = false;
  readonly #waiters: Waiter[] = [];

  /** Runs `fn` holding the lock (shared or exclusive), and releases it however `fn` ends. */
  async with<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    await this.#acquire(exclusive);
    try {
      return await fn();
    } finally {
      this.#release(exclusive);
    }
  }

  /** Nobody holds or waits for it: the owner may forget it. */
  get idle(): boolean {
    return this.#shared === 0 && !this.#exclusive && this.#waiters.length === 0;
  }

  #acquire(exclusive: boolean): Promise<void> {
    if (this.#waiters.length === 0 && this.#admits(exclusive)) {
      this.#take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push({ exclusive, grant: resolve }));
  }

  #admits(exclusive: boolean): boolean {
    return exclusive ? !this.#exclusive && this.#shared === 0 : !this.#exclusive;
  }

  #take(exclusive: boolean): void {
    if (exclusive) this.#exclusive = true;
    else this.#shared++;
  }

  #release(exclusive: boolean): void {
    if (exclusive) this.#exclusive = false;
    else this.#shared--;
    while (this.#waiters.length > 0 && this.#admits(this.#waiters[0].exclusive)) {
      const next = this.#waiters.shift()!;
      this.#take(next.exclusive);
      next.grant();
    }
  }
}

/** One lock per name (a table), created on first use and dropped when idle. */
export class NamedLocks {
  readonly #locks = new Map<string, RwLock>();

  /** Holds every named lock (sorted, so two holders of overlapping sets never deadlock) while `fn` runs. */
  async with<T>(names: Iterable<string>, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(names)].sort();
    const hold = (i: number): Promise<T> => {
      if (i === sorted.length) return fn();
      const name = sorted[i];
      const lock = this.#locks.get(name) ?? new RwLock();
      this.#locks.set(name, lock);
      return lock
        .with(exclusive, () => hold(i + 1))
        .finally(() => {
          if (lock.idle && this.#locks.get(name) === lock) this.#locks.delete(name);
        });
    };
    return hold(0);
  }
}
