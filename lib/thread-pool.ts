import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { InvalidArgumentError, QueueClosedError, QueueFullError, assertInteger } from './errors.js';

/*
The pool for blocking work (asyncio.to_thread on a ThreadPoolExecutor(max_workers)): CPU-bound or
synchronous work runs on at most `maxWorkers` worker threads, off the event loop. Built on piscina, which
already does the thread management well; this class only fixes the bounds and the error contract:
the backlog is capped (`maxQueue`), and a full backlog rejects with QueueFullError instead of growing.
*/

export interface ThreadPoolOptions {
  /** The worker module (path or file URL); its default export is called with each task. */
  readonly filename: string | URL;
  /** Threads at most. Default: the machine's available parallelism. */
  readonly maxWorkers?: number;
  /** Tasks waiting for a thread at most; 0 means run only when a thread is free. Default: maxWorkers². */
  readonly maxQueue?: number;
  /** Threads kept alive while idle. Default 0: an idle pool costs no threads. */
  readonly minWorkers?: number;
  /** Milliseconds an idle thread lives. Default 1000. */
  readonly idleTimeoutMs?: number;
  /** Passed to every worker as `workerData`. */
  readonly workerData?: unknown;
}

export interface ThreadRunOptions {
  readonly signal?: AbortSignal;
}

const QUEUE_FULL_MESSAGES = new Set(['Task queue is at limit', 'No task queue available and all Workers are busy']);

export class ThreadPool<Task = unknown, Result = unknown> {
  readonly #piscina: Piscina<Task, Result>;
  readonly #maxWorkers: number;
  readonly #maxQueue: number;
  #destroyed = false;

  constructor(options: ThreadPoolOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', options, 'an object with `filename`');
    }
    const {
      filename,
      maxWorkers = os.availableParallelism(),
      maxQueue = maxWorkers ** 2,
      minWorkers = 0,
      idleTimeoutMs = 1000,
      workerData,
    } = options;
    if (!(typeof filename === 'string' && filename.length > 0) && !(filename instanceof URL)) {
      throw new InvalidArgumentError('filename', filename, 'a non-empty path or a file URL');
    }
    assertInteger('maxWorkers', maxWorkers);
    assertInteger('maxQueue', maxQueue, { min: 0, allowInfinity: true });
    assertInteger('minWorkers', minWorkers, { min: 0 });
    if (minWorkers > maxWorkers) throw new InvalidArgumentError('minWorkers', minWorkers, `at most maxWorkers (${maxWorkers})`);
    assertInteger('idleTimeoutMs', idleTimeoutMs, { min: 0 });
    this.#maxWorkers = maxWorkers;
    this.#maxQueue = maxQueue;
    this.#piscina = new Piscina<Task, Result>({
      filename: filename instanceof URL ? fileURLToPath(filename) : filename,
      maxThreads: maxWorkers,
      minThreads: minWorkers,
      maxQueue,
      idleTimeout: idleTimeoutMs,
      workerData,
    });
  }

  get maxWorkers(): number {
    return this.#maxWorkers;
  }

  get maxQueue(): number {
    return this.#maxQueue;
  }

  /** Threads alive now. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  get completed(): number {
    return this.#piscina.completed;
  }

  /** Runs `task` on a worker thread. Rejects with QueueFullError when the backlog is full. */
  async run(task: Task, options: ThreadRunOptions = {}): Promise<Result> {
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('signal', signal, 'an AbortSignal');
    }
    if (this.#destroyed) throw new QueueClosedError('Cannot run: the thread pool is destroyed');
    if (signal?.aborted) throw signal.reason;
    try {
      return await this.#piscina.run(task, { signal: signal ?? null });
    } catch (error) {
      throw this.#translate(error, signal);
    }
  }

  /** Stops every thread; queued tasks reject. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await this.#piscina.destroy();
  }

  #translate(error: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason;
    if (error instanceof Error && QUEUE_FULL_MESSAGES.has(error.message)) {
      return new QueueFullError(
        `Cannot run: ${this.#maxWorkers} workers busy and ${this.#maxQueue} tasks queued (maxQueue ${this.#maxQueue})`,
      );
    }
    if (this.#destroyed) return new QueueClosedError('The thread pool was destroyed before the task finished');
    return error;
  }
}
