import { type QueuedAcquire, type Release, Semaphore } from './semaphore.js';

/*
The slots of a BoundedScheduler: either a plain count up to `concurrency`, or the permits of a shared
Semaphore (each slot one permit, so the limit is shared with other work and follows `setPermits` live).
With a Semaphore, a slot that is not free at once is waited for with one queued acquire at a time: the
scheduler waits its turn in the semaphore's FIFO like any caller, and the permit granted is held until the
scheduler takes it (or goes back at once when the scheduler no longer wants it).
*/

const NOOP: Release = () => {};

export class SchedulerSlots {
  readonly #limit: number;
  readonly #semaphore: Semaphore | undefined;
  /** Whether a permit granted now would still be used (the run neither stopped, exhausted nor ended). */
  readonly #wanted: () => boolean;
  /** Called when a waited-for permit is granted and held: the scheduler pulls again. */
  readonly #onGranted: () => void;
  #held = 0;
  #granted: Release | undefined;
  #acquiring: QueuedAcquire | undefined;

  constructor(concurrency: number | Semaphore | undefined, wanted: () => boolean, onGranted: () => void) {
    this.#semaphore = concurrency instanceof Semaphore ? concurrency : undefined;
    this.#limit = typeof concurrency === 'number' ? concurrency : 0;
    this.#wanted = wanted;
    this.#onGranted = onGranted;
  }

  /** A free slot, or undefined (and, on a Semaphore, one acquire queued) when none is free. */
  take(): Release | undefined {
    const semaphore = this.#semaphore;
    if (!semaphore) {
      if (this.#held >= this.#limit) return undefined;
      this.#held++;
      return NOOP;
    }
    const granted = this.#granted ?? semaphore.tryAcquire();
    this.#granted = undefined;
    if (granted) return granted;
    if (!this.#acquiring) this.#waitForPermit(semaphore);
    return undefined;
  }

  give(slot: Release): void {
    if (this.#semaphore) slot();
    else this.#held--;
  }

  /** A permit granted for a pull that will not happen goes back at once. */
  releaseGranted(): void {
    const granted = this.#granted;
    this.#granted = undefined;
    granted?.();
  }

  /** No more slots will be taken: the queued acquire is withdrawn and a held permit goes back. */
  stop(): void {
    this.#acquiring?.cancel();
    this.releaseGranted();
  }

  #waitForPermit(semaphore: Semaphore): void {
    const acquiring = semaphore.queue();
    this.#acquiring = acquiring;
    acquiring.granted.then(
      (release) => {
        this.#acquiring = undefined;
        // Other slots may have finished the source while this permit was on its way.
        if (!this.#wanted()) {
          release();
          return;
        }
        this.#granted = release;
        this.#onGranted();
      },
      () => {
        this.#acquiring = undefined;
      },
    );
  }
}
