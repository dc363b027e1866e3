// A Lambda container on its own worker thread, as Lambda gives each container its own process: its own module
// instances, event loop and heap, so one container's CPU-bound work never stalls another's, the emulators or
// the poller. LocalFunction keeps the bounds (at most its reserved concurrency of containers, each running one
// invocation at a time, throttled above: no backlog of its own) and reuses idle containers (warm starts).
// Why worker_threads directly and not the ThreadPool primitive (lib/thread-pool.ts): a pool runs stateless
// tasks on any free thread and never stops a running one; a container is one thread with state (its runtime,
// its handler's module state) that invocations must come back to, and one that times out is terminated at
// once and replaced, as Lambda resets a sandbox that timed out.
import { Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { LambdaHandler, LocalContainer } from './local-function.js';
import { bundled } from './thread-bundle.js';
import type { ThreadObservations } from './thread-observations.js';
import type {
  ContainerThreadData,
  ErrorData,
  LogChunk,
  SentMessage,
  ThreadReply,
  ThreadRequest,
} from './thread-protocol.js';

const ENTRY = new URL('./container-thread.ts', import.meta.url);

export interface ThreadContainerOptions {
  readonly kind: ContainerThreadData['kind'];
  readonly functionName: string;
  /** The run's shared counters (in flight, latency, hurry), one set for all containers. */
  readonly observations: ThreadObservations;
  /**
   * The function's memory setting. It is the thread's heap limit (V8's old generation), so a handler that
   * outgrows it ends its container with ERR_WORKER_OUT_OF_MEMORY, as Lambda ends a sandbox that runs out of
   * memory; unset, the thread has the process's limit.
   */
  readonly memoryMb?: number;
  readonly region?: string;
  /** Sees what the function sends to `reportSendsTo` (the task ledger). */
  readonly reportSendsTo?: string;
  readonly onSent?: (sent: SentMessage) => void;
  /** Wraps the handler on this side of the boundary (a test's injected faults). */
  readonly wrap?: (handler: LambdaHandler) => LambdaHandler;
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void };

export class ThreadContainer implements LocalContainer {
  readonly handler: LambdaHandler;
  readonly #options: ThreadContainerOptions;
  readonly #sockets = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #seq = 0;
  #exited = false;

  constructor(options: ThreadContainerOptions) {
    this.#options = options;
    const inner: LambdaHandler = (event: unknown, context: Context) => this.#invoke(event, context);
    this.handler = options.wrap ? options.wrap(inner) : inner;
  }

  /** True once its thread has ended (terminated after a timeout, or crashed): it takes no more invocations. */
  get broken(): boolean {
    return this.#exited;
  }

  /** The thread's sockets open now and the most it held at once, as it last wrote them. */
  socketBudget(): { open: number; peak: number } {
    return { open: Atomics.load(this.#sockets, 0), peak: Atomics.load(this.#sockets, 1) };
  }

  /** The cold start: the thread is made and loads the runtime and the handler module. */
  async init(): Promise<void> {
    const { kind, functionName, observations, reportSendsTo } = this.#options;
    const workerData: ContainerThreadData = {
      kind: typeof kind === 'object' ? { module: (await bundled(new URL(kind.module))).href } : kind,
      functionName,
      observations: observations.handle,
      sockets: this.#sockets.buffer as SharedArrayBuffer,
      reportSendsTo,
    };
    const { memoryMb } = this.#options;
    const resourceLimits = memoryMb === undefined ? undefined : { maxOldGenerationSizeMb: memoryMb };
    const worker = new Worker(await bundled(ENTRY, 'bundle'), { workerData, resourceLimits });
    this.#worker = worker;
    worker.on('message', (message: ThreadReply | SentMessage) => this.#onMessage(message));
    worker.on('error', (error) => this.#end(error));
    worker.on('exit', (code) => this.#end(new Error(`container thread exited with code ${code}`)));
    await this.#request({ type: 'init', id: ++this.#seq });
  }

  /** The invocation timed out: the thread is terminated now (its invocation rejects) and never used again. */
  timedOut(): void {
    void this.#worker?.terminate();
  }

  /** Every invocation of this function, running or to come, sees no time left. */
  hurry(): void {
    this.#options.observations.hurry(this.#options.functionName);
  }

  async destroy(): Promise<void> {
    await this.#worker?.terminate();
  }

  #invoke(event: unknown, context: Context): Promise<unknown> {
    const remaining = context.getRemainingTimeInMillis();
    return this.#request({
      type: 'invoke',
      id: ++this.#seq,
      event,
      deadline: Date.now() + remaining,
      timeoutMs: Math.max(1, remaining),
      memoryMb: Number(context.memoryLimitInMB) || (this.#options.memoryMb ?? 128),
      region: this.#options.region ?? 'us-east-1',
      awsRequestId: context.awsRequestId,
    });
  }

  #request(request: ThreadRequest): Promise<unknown> {
    if (this.#exited || !this.#worker) {
      return Promise.reject(new Error(`${this.#options.functionName}: container thread is not running`));
    }
    // The thread keeps the process alive only while it owes an answer (an idle warm container does not).
    this.#worker.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      this.#worker!.postMessage(request);
    });
  }

  #onMessage(message: ThreadReply | SentMessage): void {
    if (message.type === 'sent') {
      this.#options.onSent?.(message);
      return;
    }
    writeLogs(message.logs);
    if (message.type === 'logs') return;
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (message.type === 'ready' || message.ok)
      pending.resolve(message.type === 'ready' ? undefined : message.value);
    else pending.reject(rebuildError(message.error));
  }

  #end(error: Error): void {
    this.#exited = true;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

/** A factory of thread containers for LocalFunction's `container` option. */
export function threadContainers(options: ThreadContainerOptions): () => ThreadContainer {
  return () => new ThreadContainer(options);
}

// Written here as the thread wrote them, so local/function-logs.ts takes the functions' lines as it does for
// an in-process container.
function writeLogs(logs: readonly LogChunk[]): void {
  for (const { fd, text } of logs) (fd === 1 ? process.stdout : process.stderr).write(text);
}

function rebuildError(data: ErrorData | undefined): Error {
  const error = new Error(data?.message ?? 'container thread failed');
  error.name = data?.name ?? 'Error';
  if (data?.stack) error.stack = data.stack;
  if (data?.code !== undefined) Object.assign(error, { code: data.code });
  return error;
}
