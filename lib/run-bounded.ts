import {
  type BoundedOptions,
  BoundedScheduler,
  type Source,
  type TaskFn,
  validateBoundedArgs,
} from './bounded-scheduler.js';

export type SettledResult<R> = { status: 'fulfilled'; value: R } | { status: 'rejected'; reason: unknown };

/**
 * Runs `fn` over `source` with at most `concurrency` items taken and unfinished, pulling lazily, and
 * resolves to the settled results in input order (like Promise.allSettled, bounded).
 * With `stopOnError` it stops pulling at the first failure and rejects with it once the running tasks
 * settle; an abort rejects at once with the signal's reason.
 */
export function runBounded<T, R>(
  source: Source<T>,
  fn: TaskFn<T, R>,
  options: BoundedOptions,
): Promise<SettledResult<Awaited<R>>[]> {
  let validated: BoundedOptions;
  try {
    validated = validateBoundedArgs(source, fn, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const results: SettledResult<Awaited<R>>[] = [];
    const hooks = {
      onSettle(index: number, _item: T, ok: boolean, valueOrReason: unknown) {
        results[index] = ok
          ? { status: 'fulfilled', value: valueOrReason as Awaited<R> }
          : { status: 'rejected', reason: valueOrReason };
      },
      onEnd(failed: boolean, error: unknown) {
        if (failed) reject(error);
        else resolve(results);
      },
    };
    new BoundedScheduler(source, fn, validated, hooks, true).start();
  });
}
