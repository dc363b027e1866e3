// ThreadPools on the CPU-task fixture for the ThreadPool tests, each destroyed once the file's tests end.
import { afterAll } from 'vitest';
import { ThreadPool, type ThreadPoolOptions } from '../../lib/thread-pool.js';

/** The worker module the pools run: burns CPU, counts concurrent runs in shared memory. */
export const cpuTask = new URL('../fixtures/cpu-task.mjs', import.meta.url);

/** A factory of pools on `cpuTask` (or the `filename` given), all destroyed after the file's tests. */
export function trackedPools<Task, Result>() {
  const pools: ThreadPool<Task, Result>[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.destroy()));
  });
  return (options: Partial<ThreadPoolOptions> = {}): ThreadPool<Task, Result> => {
    const p = new ThreadPool<Task, Result>({ filename: cpuTask, ...options });
    pools.push(p);
    return p;
  };
}
