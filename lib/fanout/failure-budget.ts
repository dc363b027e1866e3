import { InvalidArgumentError } from '../errors.js';

export interface FailureCounts {
  readonly finished: number;
  readonly failed: number;
}

/**
 * Step Functions' ToleratedFailurePercentage for a fan-out: once more than `toleratedFailurePercent` of
 * the finished tasks have failed, the budget is tripped and the job stops starting work. 100 never trips;
 * 0 trips on the first failure. Counts carry over between invocations of one job (`counts`).
 */
export class FailureBudget {
  readonly #tolerated: number;
  #finished: number;
  #failed: number;

  constructor(toleratedFailurePercent: number, counts: FailureCounts = { finished: 0, failed: 0 }) {
    if (
      typeof toleratedFailurePercent !== 'number' ||
      !(toleratedFailurePercent >= 0 && toleratedFailurePercent <= 100)
    ) {
      throw new InvalidArgumentError(
        'toleratedFailurePercent',
        toleratedFailurePercent,
        'a number from 0 to 100',
      );
    }
    this.#tolerated = toleratedFailurePercent;
    this.#finished = counts.finished;
    this.#failed = counts.failed;
  }

  record(ok: boolean): void {
    this.#finished++;
    if (!ok) this.#failed++;
  }

  get tripped(): boolean {
    // Integer arithmetic: failed / finished > tolerated / 100, without rounding.
    return this.#tolerated < 100 && this.#failed * 100 > this.#tolerated * this.#finished;
  }

  get toleratedFailurePercent(): number {
    return this.#tolerated;
  }

  get counts(): FailureCounts {
    return { finished: this.#finished, failed: this.#failed };
  }
}
