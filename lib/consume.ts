import type { BoundedQueue } from './bounded-queue.js';
import { assertInteger, InvalidArgumentError } from './errors.js';

export interface ConsumeResult {
  /** Items whose handler resolved. */
  readonly handled: number;
  /** Items whose handler threw or rejected. */
  readonly failed: number;
}

export interface ConsumeOptions<T> {
  /** Told of every failure, so none is lost; a failing handler never stops its consumer. */
  readonly onError?: (error: unknown, item: T, worker: number) => void;
}

/**
 * Runs `workers` consumers over `queue` (asyncio's N consumer tasks on one Queue) and resolves, once the
 * queue is closed and drained, to how many items were handled and how many failed.
 */
export async function consume<T>(
  queue: BoundedQueue<T>,
  workers: number,
  handler: (item: T, worker: number) => unknown,
  options: ConsumeOptions<T> = {},
): Promise<ConsumeResult> {
  assertInteger('workers', workers);
  if (typeof handler !== 'function') throw new InvalidArgumentError('handler', handler, 'a function');
  const { onError } = options;
  if (onError !== undefined && typeof onError !== 'function') {
    throw new InvalidArgumentError('onError', onError, 'a function');
  }
  let handled = 0;
  let failed = 0;
  const worker = async (id: number) => {
    for await (const item of queue) {
      try {
        await handler(item, id);
        handled++;
      } catch (error) {
        failed++;
        onError?.(error, item, id);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, id) => worker(id)));
  return { handled, failed };
}
