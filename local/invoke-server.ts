// The Lambda Invoke API on loopback: the one route `POST /2015-03-31/functions/{name}/invocations`, so the
// handlers' unchanged @aws-sdk/client-lambda code runs locally through AWS_ENDPOINT_URL_LAMBDA.
// RequestResponse answers 200 with the result (or `X-Amz-Function-Error: Unhandled` and the error);
// Event answers 202 at once and runs the invocation in the background, retried on error as Lambda does
// (twice by default), sent to the function's dead-letter queue and on-failure destination when the last retry
// fails (when it has them: local/async-dead-letters.ts, async-destinations.ts), and held back, not dropped,
// while the function is at its reserved concurrency.
// It also answers GetAccountSettings (local/account-settings.ts), for `plan`'s check of the account's quota,
// and the control-plane calls `limits` makes on the worker's settings (local/lambda-control.ts).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertInteger } from '../lib/errors.js';
import {
  ACCOUNT_SETTINGS_ROUTE,
  type AccountSettingsOptions,
  accountSettingsBody,
  checkAccountSettings,
} from './account-settings.js';
import type { DeadLetterSink } from './async-dead-letters.js';
import { type FailedEvent, type FailureDestinations, failureRecord } from './async-destinations.js';
import { type AsyncInvocationRecord, runAsyncInvocation } from './async-invocation.js';
import { functionNameOf } from './function-name.js';
import { errorBody, errorHeaders, readBody, reply } from './invoke-wire.js';
import { answerControl, type MappedEventSource } from './lambda-control.js';
import { FunctionThrottledError, type LocalFunction } from './local-function.js';

export type { AsyncInvocationRecord } from './async-invocation.js';
export { functionNameOf } from './function-name.js';

/** Lambda's payload quotas: 6 MB for a synchronous request, 1 MB for an asynchronous one. */
export const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024;

export const InvocationTypes = {
  REQUEST_RESPONSE: 'RequestResponse',
  EVENT: 'Event',
  DRY_RUN: 'DryRun',
} as const;

const ROUTE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface InvokeServerOptions {
  readonly functions: Iterable<LocalFunction>;
  /** Retries of a failed asynchronous invocation (Lambda's MaximumRetryAttempts, 0..2). */
  readonly asyncRetryAttempts?: number;
  readonly asyncRetryDelayMs?: number;
  /**
   * Fault injection: deliver an asynchronous event this many times (Lambda's async delivery is at least
   * once). A function of the function name and payload, or a number for every event.
   */
  readonly asyncDeliveries?: number | ((functionName: string, payload: unknown) => number);
  /** What GetAccountSettings answers: a quota of 1,000 less the functions' reservations unless given. */
  readonly accountSettings?: AccountSettingsOptions;
  /**
   * Events this returns true for are accepted (202) and kept, not run: a stopping run keeps the orchestrator's
   * continuation (where it would have read on) instead of reading the rest of the manifest.
   */
  readonly holdAsync?: (functionName: string, payload: unknown) => boolean;
  /** Where an event goes when its last retry fails (Lambda's DLQ); lost when not given, as without one. */
  readonly deadLetters?: DeadLetterSink;
  /** And which function is told of it (Lambda's on-failure destination: local/async-destinations.ts). */
  readonly onFailure?: FailureDestinations;
  /** Told of each asynchronous invocation's outcome as it is kept (`run --state`: the journal). */
  readonly onAsyncRecord?: (record: AsyncInvocationRecord) => void;
  /** Told of each event as it is accepted, held or not (`run --state`: the journal, for a resume to run it). */
  readonly onAsyncAccepted?: (functionName: string, payload: unknown, requestId: string) => void;
}

export interface HeldEvent {
  readonly functionName: string;
  readonly payload: unknown;
}

export class InvokeServer {
  readonly #functions = new Map<string, LocalFunction>();
  readonly #server: Server;
  readonly #pending = new Set<Promise<void>>();
  readonly #records: AsyncInvocationRecord[] = [];
  readonly #onAsyncRecord: InvokeServerOptions['onAsyncRecord'];
  readonly #onAsyncAccepted: InvokeServerOptions['onAsyncAccepted'];
  readonly #held: HeldEvent[] = [];
  readonly #hold: InvokeServerOptions['holdAsync'];
  readonly #deadLetters: DeadLetterSink | undefined;
  readonly #onFailure: FailureDestinations;
  readonly #retryAttempts: number;
  readonly #retryDelayMs: number;
  readonly #deliveries: (functionName: string, payload: unknown) => number;
  readonly #accountSettings: AccountSettingsOptions;
  readonly #eventSources: MappedEventSource[] = [];
  #endpoint: string | undefined;
  #closing = false;

  constructor({
    functions,
    asyncRetryAttempts = 2,
    asyncRetryDelayMs = 50,
    asyncDeliveries = 1,
    accountSettings,
    holdAsync,
    deadLetters,
    onFailure = {},
    onAsyncRecord,
    onAsyncAccepted,
  }: InvokeServerOptions) {
    this.#hold = holdAsync;
    this.#onAsyncRecord = onAsyncRecord;
    this.#onAsyncAccepted = onAsyncAccepted;
    this.#deadLetters = deadLetters;
    this.#onFailure = onFailure;
    for (const fn of functions) this.#functions.set(fn.name, fn);
    this.#accountSettings = checkAccountSettings(accountSettings);
    this.#retryAttempts = assertInteger('asyncRetryAttempts', asyncRetryAttempts, { min: 0 });
    this.#retryDelayMs = assertInteger('asyncRetryDelayMs', asyncRetryDelayMs, { min: 0 });
    if (typeof asyncDeliveries === 'number') assertInteger('asyncDeliveries', asyncDeliveries);
    this.#deliveries = typeof asyncDeliveries === 'number' ? () => asyncDeliveries : asyncDeliveries;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error) =>
        reply(res, 500, errorHeaders('ServiceException'), errorBody(error)),
      );
    });
  }

  /** Listens on 127.0.0.1 (a free port unless given) and resolves to the endpoint URL. */
  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#endpoint = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#endpoint;
  }

  get endpoint(): string {
    if (!this.#endpoint) throw new Error('InvokeServer is not listening: call listen() first');
    return this.#endpoint;
  }

  /** An event source mapping to describe and change (ListEventSourceMappings, UpdateEventSourceMapping). */
  addEventSource(poller: MappedEventSource): void {
    this.#eventSources.push(poller);
  }

  /** Outcomes of the asynchronous invocations finished so far, in order of completion. */
  get asyncInvocations(): readonly AsyncInvocationRecord[] {
    return this.#records;
  }

  /** Events accepted and kept unrun (see `holdAsync`), in order. */
  get heldEvents(): readonly HeldEvent[] {
    return this.#held;
  }

  get pendingAsyncInvocations(): number {
    return this.#pending.size;
  }

  /** Resolves once no asynchronous invocation runs or waits, including those started meanwhile. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops accepting requests, waits for the background invocations, closes the sockets. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.idle();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && ACCOUNT_SETTINGS_ROUTE.test(url.pathname)) {
      const body = accountSettingsBody(this.#accountSettings, [...this.#functions.values()]);
      return reply(res, 200, { 'x-amzn-requestid': randomUUID() }, body);
    }
    const control = {
      functions: this.#functions,
      eventSources: this.#eventSources,
      accountSettings: this.#accountSettings,
    };
    if (await answerControl(req, res, url, control)) return;
    const route = ROUTE.exec(url.pathname);
    if (req.method !== 'POST' || !route) {
      return reply(res, 404, errorHeaders('UnknownOperationException'), { message: 'Unknown operation' });
    }
    const name = functionNameOf(decodeURIComponent(route[1]));
    const fn = this.#functions.get(name);
    if (!fn || this.#closing) {
      const arn = `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
      return reply(res, 404, errorHeaders('ResourceNotFoundException'), {
        Type: 'User',
        message: `Function not found: ${arn}`,
      });
    }
    const type = String(req.headers['x-amz-invocation-type'] ?? InvocationTypes.REQUEST_RESPONSE);
    const limit = type === InvocationTypes.EVENT ? MAX_ASYNC_PAYLOAD_BYTES : MAX_SYNC_PAYLOAD_BYTES;
    const raw = await readBody(req, limit);
    if (raw === undefined) {
      return reply(res, 413, errorHeaders('RequestEntityTooLargeException'), {
        Type: 'User',
        message: `Request must be smaller than ${limit} bytes for the ${type} invocation type`,
      });
    }
    let payload: unknown;
    try {
      payload = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      return reply(res, 400, errorHeaders('InvalidRequestContentException'), {
        Type: 'User',
        message: 'Could not parse request body into json',
      });
    }
    const requestId = randomUUID();
    const ids = { 'x-amzn-requestid': requestId };
    if (type === InvocationTypes.DRY_RUN) return reply(res, 204, ids);
    if (type === InvocationTypes.EVENT) {
      this.#acceptEvent(fn, payload, requestId);
      return reply(res, 202, ids);
    }
    if (type !== InvocationTypes.REQUEST_RESPONSE) {
      return reply(res, 400, errorHeaders('InvalidParameterValueException'), {
        Type: 'User',
        message: `Unsupported invocation type: ${type}`,
      });
    }
    return this.#invokeSync(fn, payload, requestId, res);
  }

  /** An event accepted by an earlier process under `requestId` and never ended, run again (a resume). */
  acceptAgain(functionName: string, payload: unknown, requestId: string): void {
    const fn = this.#functions.get(functionName);
    if (fn) this.#acceptEvent(fn, payload, requestId);
  }

  /** An Event invocation: held unrun when `holdAsync` says so, else run once per delivery in the background. */
  #acceptEvent(fn: LocalFunction, payload: unknown, requestId: string): void {
    this.#onAsyncAccepted?.(fn.name, payload, requestId);
    if (this.#hold?.(fn.name, payload)) {
      this.#held.push({ functionName: fn.name, payload });
      return;
    }
    const deliveries = assertInteger('asyncDeliveries', this.#deliveries(fn.name, payload));
    for (let delivery = 1; delivery <= deliveries; delivery++)
      this.#runAsync(fn, payload, requestId, delivery);
  }

  /** A RequestResponse invocation: the function's result, its error (as Lambda reports it), or a throttle. */
  async #invokeSync(
    fn: LocalFunction,
    payload: unknown,
    requestId: string,
    res: ServerResponse,
  ): Promise<void> {
    const ids = { 'x-amzn-requestid': requestId };
    try {
      const result = await fn.invoke(payload, { awsRequestId: requestId });
      return reply(res, 200, { ...ids, 'x-amz-executed-version': '$LATEST' }, result ?? null);
    } catch (error) {
      if (error instanceof FunctionThrottledError) {
        return reply(res, 429, errorHeaders('TooManyRequestsException'), {
          Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
          Type: 'User',
          message: 'Rate Exceeded.',
        });
      }
      const headers = { ...ids, 'x-amz-executed-version': '$LATEST', 'x-amz-function-error': 'Unhandled' };
      return reply(res, 200, headers, errorBody(error));
    }
  }

  /**
   * Tells `failed.functionName`'s on-failure destination, if it has one, of an event that failed for good: an
   * asynchronous invocation of it with Lambda's record. The local run calls it for the schedule's invocation.
   */
  reportFailure(failed: FailedEvent): void {
    const destination = this.#functions.get(this.#onFailure[failed.functionName] ?? '');
    if (destination) this.#runAsync(destination, failureRecord(failed), randomUUID(), 1);
  }

  #runAsync(fn: LocalFunction, payload: unknown, requestId: string, delivery: number): void {
    const retries = { retryAttempts: this.#retryAttempts, retryDelayMs: this.#retryDelayMs };
    const run = runAsyncInvocation({
      fn,
      payload,
      requestId,
      delivery,
      ...retries,
      deadLetters: this.#deadLetters,
      onFailed: (failed) => this.reportFailure(failed),
    }).then((record) => {
      this.#records.push(record);
      this.#onAsyncRecord?.(record);
    });
    this.#pending.add(run);
    run.finally(() => this.#pending.delete(run));
  }
}
