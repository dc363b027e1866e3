import { AbortError } from '../../lib/errors.js';
import { ExitCodes } from './exit-code.js';

/**
 * Ctrl-C handling: the first SIGINT (or SIGTERM) aborts `stopSignal`, which the runtime takes as "stop polling,
 * let running invocations finish"; the second aborts `cutOffSignal`: the runtime lets go of the running
 * invocations and the report is written at once; the third ends the process there and then with code 130.
 */
export class Interrupts {
  readonly #stop = new AbortController();
  readonly #cutOff = new AbortController();
  #handler?: () => void;

  get stopSignal(): AbortSignal {
    return this.#stop.signal;
  }

  get cutOffSignal(): AbortSignal {
    return this.#cutOff.signal;
  }

  listen({ stop, cutOff, abort }: { stop: () => void; cutOff: () => void; abort: () => void }): void {
    this.#handler = () => {
      if (!this.#stop.signal.aborted) {
        stop();
        this.#stop.abort(new AbortError('Interrupted: stopping'));
        return;
      }
      if (!this.#cutOff.signal.aborted) {
        cutOff();
        this.#cutOff.abort(new AbortError('Interrupted: cut off'));
        return;
      }
      abort();
      process.exit(ExitCodes.INTERRUPTED);
    };
    process.on('SIGINT', this.#handler);
    process.on('SIGTERM', this.#handler);
  }

  close(): void {
    if (!this.#handler) return;
    process.off('SIGINT', this.#handler);
    process.off('SIGTERM', this.#handler);
  }
}
