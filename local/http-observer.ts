// What the functions' tasks do on the wire, seen from outside them: undici publishes each request on its
// diagnostics channels, and the local runtime runs every invocation inside an AsyncLocalStorage store that
// names the function, so a request made by a task is counted against the function that made it. The
// function code is the deployed code, unchanged: no hook in it reports anything.
//   in flight   from the request's creation in undici (past our own per-host and total socket admission, so
//               a task still waiting for its host's permit is not counted) to its end (trailers or an error),
//               per function: the orchestrator's are its inline tasks with a request out;
//   latency     from the moment the request is written to a socket to its end: each attempt's response time,
//               in the constant-memory histogram of the report.
// Every task request goes through undici (runHttpTask); the AWS SDK's calls go through node:http and are not
// seen here.
import diagnostics from 'node:diagnostics_channel';
import { invocationScope } from './invocation-scope.js';
import { LatencyHistogram } from './report/latency.js';
import type { LatencyHistogramData } from './report/types.js';
import type { ThreadObservations } from './thread-observations.js';

interface Tracked {
  readonly functionName: string;
  sentAt: number;
  ended: boolean;
}

type RequestMessage = { request: object };

export class HttpObserver {
  readonly #latency = new LatencyHistogram();
  readonly #inFlight = new Map<string, number>();
  readonly #peak = new Map<string, number>();
  readonly #requests = new WeakMap<object, Tracked>();
  readonly #threads: ThreadObservations[] = [];
  #subscribed = false;

  readonly #onCreate = (message: unknown): void => {
    const functionName = invocationScope.getStore()?.functionName;
    if (functionName === undefined) return; // not a function's task (a test's own client, say)
    const { request } = message as RequestMessage;
    this.#requests.set(request, { functionName, sentAt: 0, ended: false });
    const now = (this.#inFlight.get(functionName) ?? 0) + 1;
    this.#inFlight.set(functionName, now);
    if (now > (this.#peak.get(functionName) ?? 0)) this.#peak.set(functionName, now);
  };

  readonly #onSend = (message: unknown): void => {
    const tracked = this.#requests.get((message as RequestMessage).request);
    if (tracked) tracked.sentAt = performance.now();
  };

  readonly #onEnd = (message: unknown): void => {
    const tracked = this.#requests.get((message as RequestMessage).request);
    if (!tracked || tracked.ended) return;
    tracked.ended = true;
    if (tracked.sentAt > 0) this.#latency.record(performance.now() - tracked.sentAt);
    this.#inFlight.set(tracked.functionName, (this.#inFlight.get(tracked.functionName) ?? 1) - 1);
  };

  start(): this {
    if (this.#subscribed) return this;
    this.#subscribed = true;
    diagnostics.subscribe('undici:request:create', this.#onCreate);
    diagnostics.subscribe('undici:client:sendHeaders', this.#onSend);
    diagnostics.subscribe('undici:request:trailers', this.#onEnd);
    diagnostics.subscribe('undici:request:error', this.#onEnd);
    return this;
  }

  stop(): void {
    if (!this.#subscribed) return;
    this.#subscribed = false;
    diagnostics.unsubscribe('undici:request:create', this.#onCreate);
    diagnostics.unsubscribe('undici:client:sendHeaders', this.#onSend);
    diagnostics.unsubscribe('undici:request:trailers', this.#onEnd);
    diagnostics.unsubscribe('undici:request:error', this.#onEnd);
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

  /** Response times of every attempt that was written to a socket and ended. */
  latency(): LatencyHistogramData {
    if (this.#threads.length === 0) return this.#latency.toJSON();
    const merged = new LatencyHistogram();
    merged.absorb(this.#latency.toJSON());
    for (const t of this.#threads) merged.absorb(t.latency());
    return merged.toJSON();
  }
}
