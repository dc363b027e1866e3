// One Lambda function as the local runtime runs it: the handler, its timeout and memory, and its reserved
// concurrency as the hard cap (an invocation above it is throttled, as Lambda answers 429). It counts the
// invocations running at once and their peak, whoever invokes it (the poller or the Invoke endpoint).
import type { Context } from 'aws-lambda';
import { assertInteger, InvalidArgumentError } from '../lib/errors.js';
import { Semaphore } from '../lib/semaphore.js';
import { FunctionThrottledError, FunctionTimeoutError } from './function-errors.js';
import { createLambdaContext } from './lambda-context.js';

// biome-ignore lint/suspicious/noExplicitAny: handlers take and return any JSON, as Lambda's own types do.
export type LambdaHandler = (event: any, context: Context) => unknown;

export { FunctionThrottledError, FunctionTimeoutError, LocalFunctionErrorCodes } from './function-errors.js';

/** One execution environment: a handler with the state it built at init, reused while warm. */
export interface LocalContainer {
  readonly handler: LambdaHandler;
  /**
   * The init phase, run once before the container's first invocation (a cold start): module loading and
   * clients. As in Lambda it is not part of the invocation's timeout.
   */
  init?(): Promise<void>;
  /** Frees what the container holds (sockets, clients) when the function is closed. */
  destroy?(): void | Promise<void>;
  /**
   * Its invocation timed out: a container that can be stopped at once is stopped now (a thread is terminated;
   * an in-process one is fenced: its later calls fail), and its reserved-concurrency slot is freed at once, as
   * Lambda frees it when it kills a sandbox. Without it the slot is held until the handler really ends.
   */
  timedOut?(): void;
  /** The function was hurried: for a container that makes its own contexts (a thread). */
  hurry?(): void;
  /** True when it can take no more invocations (its thread ended): it is dropped, not reused. */
  readonly broken?: boolean;
}

export interface LocalFunctionOptions {
  readonly name: string;
  /**
   * Either one handler shared by all invocations, or `container`: a factory of execution environments, as
   * Lambda runs them: each serves one invocation at a time, a free one is reused (warm), a new one is made
   * when all are busy (cold start), and one that timed out is thrown away.
   */
  readonly handler?: LambdaHandler;
  readonly container?: () => LocalContainer;
  readonly timeoutMs: number;
  readonly memoryMb?: number;
  /** Hard cap of invocations at once; above it an invocation is throttled. Unlimited when absent. */
  readonly reservedConcurrency?: number;
  readonly region?: string;
}

export class LocalFunction {
  readonly name: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  #reservedConcurrency: number;
  readonly #newContainer: () => LocalContainer;
  readonly #shared: boolean;
  readonly #idle: LocalContainer[] = [];
  readonly #all = new Set<LocalContainer>();
  readonly #initialized = new WeakMap<LocalContainer, Promise<void>>();
  #coldStarts = 0;
  readonly #region: string;
  readonly #slots: Semaphore;
  #invocations = 0;
  #errors = 0;
  #throttles = 0;
  #hurried = false;

  constructor({
    name,
    handler,
    container,
    timeoutMs,
    memoryMb = 128,
    reservedConcurrency,
    region,
  }: LocalFunctionOptions) {
    if (typeof name !== 'string' || name === '')
      throw new InvalidArgumentError('name', name, 'a function name');
    if ((handler === undefined) === (container === undefined)) {
      throw new InvalidArgumentError(
        'handler',
        handler,
        'a function, or else `container` (exactly one of them)',
      );
    }
    if (handler !== undefined && typeof handler !== 'function') {
      throw new InvalidArgumentError('handler', handler, 'a function');
    }
    if (container !== undefined && typeof container !== 'function') {
      throw new InvalidArgumentError('container', container, 'a function returning { handler }');
    }
    this.name = name;
    this.timeoutMs = assertInteger('timeoutMs', timeoutMs);
    this.memoryMb = assertInteger('memoryMb', memoryMb);
    this.#reservedConcurrency = assertInteger('reservedConcurrency', reservedConcurrency ?? Infinity, {
      allowInfinity: true,
    });
    this.#shared = handler !== undefined;
    this.#newContainer = handler ? () => ({ handler }) : container!;
    this.#region = region ?? 'us-east-1';
    this.#slots = new Semaphore(this.#reservedConcurrency);
  }

  /** The hard cap of invocations at once (Infinity: none reserved). */
  get reservedConcurrency(): number {
    return this.#reservedConcurrency;
  }

  /**
   * Lambda's PutFunctionConcurrency (a number, 0 throttles every invocation) and DeleteFunctionConcurrency
   * (Infinity), live: invocations already running finish; a new one is throttled while as many run as the new
   * cap allows.
   */
  setReservedConcurrency(limit: number): void {
    this.#reservedConcurrency = assertInteger('reservedConcurrency', limit, { min: 0, allowInfinity: true });
    // The semaphore takes 1 at least; a cap of 0 is refused before it is asked (invoke).
    this.#slots.setPermits(Math.max(1, limit));
  }

  /**
   * Invocations running now (a timed-out one counts until its handler really settles, unless its container
   * could be stopped: then it ended at its timeout).
   */
  get inFlight(): number {
    return this.#slots.inFlight;
  }

  get peakInFlight(): number {
    return this.#slots.peakInFlight;
  }

  get stats() {
    return {
      invocations: this.#invocations,
      errors: this.#errors,
      throttles: this.#throttles,
      peakInFlight: this.peakInFlight,
      containers: this.#all.size,
      coldStarts: this.#coldStarts,
    };
  }

  /** Every execution environment made so far and not thrown away, busy or idle. */
  get containers(): readonly LocalContainer[] {
    return [...this.#all];
  }

  /**
   * From now on every invocation, running or to come, sees no time left (getRemainingTimeInMillis() is 0): a
   * deadline-aware handler stops starting work, as near its timeout. A stopping run hurries the orchestrator so
   * it reads no further and hands on a continuation.
   */
  hurry(): void {
    this.#hurried = true;
    for (const container of this.#all) container.hurry?.();
  }

  /** Destroys the idle containers (call once no invocation runs). */
  async close(): Promise<void> {
    const idle = this.#idle.splice(0);
    for (const c of idle) this.#all.delete(c);
    if (!this.#shared) await Promise.all(idle.map((c) => c.destroy?.()));
  }

  /**
   * Runs the handler once with a fresh context. Resolves to its result; rejects with its error, a
   * FunctionTimeoutError past the timeout, or a FunctionThrottledError when the reserved concurrency is used up.
   */
  async invoke(event: unknown, { awsRequestId }: { awsRequestId?: string } = {}): Promise<unknown> {
    const release = this.#reservedConcurrency === 0 ? undefined : this.#slots.tryAcquire();
    if (!release) {
      this.#throttles++;
      throw new FunctionThrottledError(this.name, this.reservedConcurrency);
    }
    this.#invocations++;
    const container = this.#take();
    try {
      await this.#init(container);
    } catch (error) {
      release();
      this.#errors++;
      this.#all.delete(container);
      if (!this.#shared) void container.destroy?.();
      throw error;
    }
    const context = this.#context(awsRequestId);
    // An async wrapper: a handler that throws before its first await still ends as a rejection.
    const running = (async () => container.handler(event, context))();
    const ending = this.#ending(container, release);
    running.then(ending.ended, ending.ended);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ending.timedOut();
        reject(new FunctionTimeoutError(this.name, this.timeoutMs));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([running, timedOut]);
    } catch (error) {
      this.#errors++;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * How an invocation ends in its container. `ended`, when its handler settles: the slot is freed and the
   * container reused, unless it timed out or broke (Lambda resets a sandbox that timed out: it is dropped).
   * `timedOut`, at the timeout: a container that can be stopped is stopped, and its slot freed and the
   * container dropped at once, as Lambda frees them when it kills the sandbox (a retry is not throttled).
   */
  #ending(container: LocalContainer, release: () => void) {
    let timedOut = false;
    let released = false;
    let dropped = false;
    const free = () => {
      if (!released) release();
      released = true;
    };
    const drop = () => {
      if (dropped) return;
      dropped = true;
      this.#all.delete(container);
      void container.destroy?.();
    };
    return {
      ended: () => {
        free();
        if (this.#shared) return;
        if (!timedOut && !container.broken) this.#idle.push(container);
        else drop();
      },
      timedOut: () => {
        timedOut = true;
        if (this.#shared || !container.timedOut) return;
        container.timedOut();
        free();
        drop();
      },
    };
  }

  /** A fresh context, which says no time is left once the function is hurried. */
  #context(awsRequestId: string | undefined): Context {
    const context = createLambdaContext({
      functionName: this.name,
      timeoutMs: this.timeoutMs,
      memoryMb: this.memoryMb,
      region: this.#region,
      awsRequestId,
    });
    const remaining = context.getRemainingTimeInMillis;
    context.getRemainingTimeInMillis = () => (this.#hurried ? 0 : remaining());
    return context;
  }

  #init(container: LocalContainer): Promise<void> {
    let ready = this.#initialized.get(container);
    if (!ready) {
      this.#coldStarts++;
      ready = container.init ? container.init() : Promise.resolve();
      this.#initialized.set(container, ready);
    }
    return ready;
  }

  #take(): LocalContainer {
    if (this.#shared) {
      if (this.#all.size === 0) this.#all.add(this.#newContainer());
      return [...this.#all][0];
    }
    const warm = this.#idle.pop();
    if (warm) return warm;
    const cold = this.#newContainer();
    if (this.#hurried) cold.hurry?.();
    this.#all.add(cold);
    return cold;
  }
}
