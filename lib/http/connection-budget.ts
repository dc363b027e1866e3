// A counter of sockets with a FIFO of waiters: the total socket cap of the undici dispatcher (see
// dispatcher.ts). A slot is taken before a connect and given back when the socket closes.
export class ConnectionBudget {
  readonly limit: number;
  #open = 0;
  #peak = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Sockets open (or connecting) now. */
  get open(): number {
    return this.#open;
  }

  /** The most sockets open at once since construction. */
  get peak(): number {
    return this.#peak;
  }

  /** Connects waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  #take(): void {
    this.#open++;
    if (this.#open > this.#peak) this.#peak = this.#open;
  }

  #release = (): void => {
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter, so `open` never dips and lets a third party in.
    if (next) next();
    else this.#open--;
  };

  /** Runs `start` once a slot is free; `start` receives the function that gives the slot back. */
  acquire(start: (release: () => void) => void): void {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#release();
    };
    if (this.#open < this.limit) {
      this.#take();
      start(release);
    } else {
      this.#waiting.push(() => start(release));
    }
  }
}
