// What the functions' tasks do on the wire, seen from outside them: the local runtime composes each in-process
// container's task dispatcher (its FunctionRuntime's taskOptions.dispatcher, load-functions.ts) with this
// observer's interceptor for the container's function, so every request a task makes is counted against the
// function that made it. The function code is the deployed code, unchanged: no hook in it reports anything.
//   in flight   from the request's dispatch to undici (past our own per-host admission, so a task still waiting
//               for its host's permit is not counted; a wait for a socket under the total cap is) to its end
//               (the response's end or an error), per function: the orchestrator's are its inline tasks with a
//               request out;
//   latency     from the moment undici starts the request on a socket to its end: each attempt's response time,
//               in the constant-memory histogram of the report.
// Why an interceptor: the runtime used to run every invocation in an AsyncLocalStorage store naming its function
// and read undici's diagnostics channels. On Node 20 such a store makes node run a hook for every promise the
// process makes: 12% of a 20,000-task run's CPU (bench/RESULTS.md, session 13). Container threads still observe
// their own requests that way, in their own isolate (container-thread.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { LatencyHistogram } from './report/latency.js';
import type { LatencyHistogramData } from './report/types.js';
import type { ThreadObservations } from './thread-observations.js';

type Controller = Dispatcher.DispatchController;

/**
 * One request's handler, passed every call on unchanged (undici's compose hands an interceptor a handler of its
 * current interface: onRequestStart .. onResponseEnd / onResponseError), noting when the request went out on a
 * socket and when it ended.
 */
class ObservedRequest implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #onEnd: (sentAt: number) => void;
  #sentAt = 0;
  #ended = false;

  constructor(handler: Dispatcher.DispatchHandler, onEnd: (sentAt: number) => void) {
    this.#handler = handler;
    this.#onEnd = onEnd;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#sentAt = performance.now();
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Controller,
    status: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.end();
    this.#handler.onRequestUpgrade?.(controller, status, headers, socket);
  }

  onResponseStart(
    controller: Controller,
    status: number,
    headers: IncomingHttpHeaders,
    message?: string,
  ): void {
    this.#handler.onResponseStart?.(controller, status, headers, message);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    this.end();
    this.#handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.end();
    this.#handler.onResponseError?.(controller, error);
  }

  /** Once, however it ended. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(this.#sentAt);
  }
}

export class HttpObserver {
  readonly #latency = new LatencyHistogram();
  readonly #inFlight = new Map<string, number>();
  readonly #peak = new Map<string, number>();
  readonly #threads: ThreadObservations[] = [];

  /** An undici interceptor: every request dispatched through it is counted as one of `functionName`'s. */
  interceptor(functionName: string): Dispatcher.DispatcherComposeInterceptor {
    return (dispatch) => (options, handler) => {
      this.#started(functionName);
      const observed = new ObservedRequest(handler, (sentAt) => this.#ended(functionName, sentAt));
      try {
        return dispatch(options, observed);
      } catch (error) {
        observed.end(); // refused before it started: nothing stays in flight
        throw error;
      }
    };
  }

  #started(functionName: string): void {
    const now = (this.#inFlight.get(functionName) ?? 0) + 1;
    this.#inFlight.set(functionName, now);
    if (now > (this.#peak.get(functionName) ?? 0)) this.#peak.set(functionName, now);
  }

  #ended(functionName: string, sentAt: number): void {
    if (sentAt > 0) this.#latency.record(performance.now() - sentAt);
    this.#inFlight.set(functionName, (this.#inFlight.get(functionName) ?? 1) - 1);
  }

  /** Also counts what container threads observe (a function's requests are counted here or there, not both). */
  include(threads: ThreadObservations): this {
    this.#threads.push(threads);
    return this;
  }

  /** Task requests of `functionName` in flight now. */
  inFlight(functionName: string): number {
    let sum = this.#inFlight.get(functionName) ?? 0;
    for (const t of this.#threads) sum += t.inFlight(functionName);
    return sum;
  }

  /** The most task requests of `functionName` in flight at once. */
  peakInFlight(functionName: string): number {
    let peak = this.#peak.get(functionName) ?? 0;
    for (const t of this.#threads) peak = Math.max(peak, t.peakInFlight(functionName));
    return peak;
  }

  /** Response times of every attempt that was started on a socket and ended. */
  latency(): LatencyHistogramData {
    if (this.#threads.length === 0) return this.#latency.toJSON();
    const merged = new LatencyHistogram();
    merged.absorb(this.#latency.toJSON());
    for (const t of this.#threads) merged.absorb(t.latency());
    return merged.toJSON();
  }
}
