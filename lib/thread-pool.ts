import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { assertInteger, InvalidArgumentError, QueueClosedError, QueueFullError } from './errors.js';
import { type Release, Semaphore } from './semaphore.js';

/*
The pool for blocking work (asyncio.to_thread on a ThreadPoolExecutor(max_workers)): CPU-bound or
synchronous work runs on at most `maxWorkers` worker threads, off the event loop.
- piscina owns the threads (start, reuse, idle timeout, errors); we never pass it an AbortSignal.
- Admission is ours: a Semaphore of `maxWorkers` permits, so a task reaches piscina only when a thread is
  free, and the backlog is the semaphore's waiters, capped at `maxQueue` (QueueFullError beyond it).
- Abort follows asyncio's to_thread: a queued task leaves the queue; a running task's caller is rejected at
  once with the reason, but the thread finishes the call (a thread cannot be stopped safely) and keeps its
  permit until then, so the bound on threads holds.
Why not piscina's own signal and maxQueue: in piscina 5.3.2, aborting running tasks can leave queued tasks
with no thread to run them, forever (found by this pool's property test; piscina issue #805 is a relative).
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

export class ThreadPool<Task = unknown, Result = unknown> {
  readonly #piscina: Piscina<Task, Result>;
  readonly #gate: Semaphore;
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
    if (minWorkers > maxWorkers)
      throw new InvalidArgumentError('minWorkers', minWorkers, `at most maxWorkers (${maxWorkers})`);
    assertInteger('idleTimeoutMs', idleTimeoutMs, { min: 0 });
    this.#maxWorkers = maxWorkers;
    this.#maxQueue = maxQueue;
    this.#gate = new Semaphore(maxWorkers);
    this.#piscina = new Piscina<Task, Result>({
      filename: filename instanceof URL ? fileURLToPath(filename) : filename,
      maxThreads: maxWorkers,
      minThreads: minWorkers,
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

  /** Tasks running on a thread now (including ones whose caller aborted). */
  get running(): number {
    return this.#gate.inFlight;
  }

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.#gate.waiting;
  }

  get peakRunning(): number {
    return this.#gate.peakInFlight;
  }

  /** Runs `task` on a worker thread. Rejects with QueueFullError when `maxQueue` tasks already wait. */
  async run(task: Task, options: ThreadRunOptions = {}): Promise<Result> {
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('signal', signal, 'an AbortSignal');
    }
    if (this.#destroyed) throw new QueueClosedError('Cannot run: the thread pool is destroyed');
    if (signal?.aborted) throw signal.reason;
    const release = this.#gate.tryAcquire() ?? (await this.#waitForThread(signal));
    const work = this.#piscina.run(task);
    work.then(release, release);
    if (!signal) return work;
    return abortable(work, signal);
  }

  /** Stops every thread; tasks still running or queued reject. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await this.#piscina.destroy();
  }

  #waitForThread(signal: AbortSignal | undefined): Promise<Release> {
    if (this.#gate.waiting >= this.#maxQueue) {
      throw new QueueFullError(
        `Cannot run: ${this.#maxWorkers} workers busy and ${this.#maxQueue} tasks queued (maxQueue ${this.#maxQueue})`,
      );
    }
    return this.#gate.acquire({ signal });
  }
}

// Rejects with the signal's reason as soon as it aborts; the work itself goes on and its outcome is dropped.
function abortable<R>(work: Promise<R>, signal: AbortSignal): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
