// The Lambda control-plane calls `bounded-fanout limits` makes, on the local Invoke endpoint, so the worker's
// settings change live in a local run as they do in AWS: ListEventSourceMappings / GetEventSourceMapping,
// UpdateEventSourceMapping (ScalingConfig.MaximumConcurrency only: the poller's maximum, local/poller.ts) and
// Put / Get / DeleteFunctionConcurrency (the function's reserved concurrency, local/local-function.ts). Paths,
// status codes and error types are Lambda's REST-JSON ones, so the AWS SDK and CLI work unchanged.
//
// Not emulated: the other fields of UpdateEventSourceMapping (refused by name), the mapping's Updating state
// (a change applies at once), pagination (every mapping fits one page here).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { minimumUnreserved } from '../lib/budget/budget-reservations.js';
import {
  type AccountSettingsOptions,
  DEFAULT_CONCURRENT_EXECUTIONS,
  reservedTotal,
} from './account-settings.js';
import { functionNameOf } from './function-name.js';
import { errorHeaders, readBody, reply } from './invoke-wire.js';
import type { LocalFunction } from './local-function.js';

const MAPPINGS = /^\/2015-03-31\/event-source-mappings\/?([^/]*)$/;
const CONCURRENCY = /^\/(2017-10-31|2019-09-30)\/functions\/([^/]+)\/concurrency$/;
/** The paths answered here (local/edge-route.ts routes them to the Invoke endpoint). */
export const LAMBDA_CONTROL_ROUTES = [MAPPINGS, CONCURRENCY];

/** ScalingConfig.MaximumConcurrency's range in Lambda. */
const MAX_CONCURRENCY_RANGE = { min: 2, max: 1000 } as const;
const MAX_BODY_BYTES = 64 * 1024;

/** An event source mapping as the control plane describes it. */
export interface EventSourceMapping {
  readonly uuid: string;
  readonly queueArn: string;
  readonly functionName: string;
  readonly batchSize: number;
  readonly maxBatchingWindowMs: number;
  readonly maxConcurrency: number;
}

/** What runs a mapping (the local poller, local/poller.ts): described, and its maximum changed live. */
export interface MappedEventSource {
  readonly uuid: string;
  readonly mapping: EventSourceMapping;
  setMaxConcurrency(maxConcurrency: number): void;
}

/** What a mapping's poller offers the control plane (local/poller.ts). */
export interface MappingPoller {
  readonly maxConcurrency: number;
  setMaxConcurrency(maxConcurrency: number): void;
}

/** A poller as a mapping with an id of its own; `settings` are the ones it was started with. */
export function mappedSource(
  poller: MappingPoller,
  settings: { queueArn: string; worker: { name: string }; batchSize: number; maxBatchingWindowMs?: number },
): MappedEventSource {
  const uuid = randomUUID();
  const { queueArn, worker, batchSize, maxBatchingWindowMs = 0 } = settings;
  return {
    uuid,
    get mapping() {
      const maxConcurrency = poller.maxConcurrency;
      return { uuid, queueArn, functionName: worker.name, batchSize, maxBatchingWindowMs, maxConcurrency };
    },
    setMaxConcurrency: (maximum) => poller.setMaxConcurrency(maximum),
  };
}

export interface LambdaControlTarget {
  readonly functions: ReadonlyMap<string, LocalFunction>;
  readonly eventSources: readonly MappedEventSource[];
  readonly accountSettings: AccountSettingsOptions;
}

/** An answer of Lambda's: a status and a body, or an error type and message. */
interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly error?: string;
}

const fault = (status: number, error: string, message: string): Answer => ({
  status,
  error,
  body: { Type: 'User', message },
});

/** Answers the request when it is a control-plane call; false when it is not one (Invoke, account settings). */
export async function answerControl(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  target: LambdaControlTarget,
): Promise<boolean> {
  const mappings = MAPPINGS.exec(url.pathname);
  const concurrency = CONCURRENCY.exec(url.pathname);
  if (!mappings && !concurrency) return false;
  const answer = await answerOf(req, url, mappings, concurrency, target);
  const headers = answer.error ? errorHeaders(answer.error) : { 'x-amzn-requestid': randomUUID() };
  reply(res, answer.status, headers, answer.body);
  return true;
}

/** The call's answer, or Lambda's refusal of a path or body it cannot read. */
async function answerOf(
  req: IncomingMessage,
  url: URL,
  mappings: RegExpExecArray | null,
  concurrency: RegExpExecArray | null,
  target: LambdaControlTarget,
): Promise<Answer> {
  const id = decoded(mappings ? mappings[1] : concurrency![2]);
  if (id === undefined) {
    const field = mappings ? 'UUID' : 'FunctionName';
    const raw = mappings ? mappings[1] : concurrency![2];
    return fault(400, 'ValidationException', `${field}: not a valid percent-encoded path segment: ${raw}`);
  }
  const body = req.method === 'PUT' ? await readJson(req) : undefined;
  if (body === TOO_LARGE)
    return fault(
      413,
      'RequestEntityTooLargeException',
      `Request must be smaller than ${MAX_BODY_BYTES} bytes`,
    );
  if (body === UNPARSEABLE)
    return fault(400, 'InvalidRequestContentException', 'Could not parse request body into json');
  return mappings
    ? mappingCall(req.method, id, url.searchParams, body, target)
    : concurrencyCall(req.method, concurrency![1], functionNameOf(id), body, target);
}

/** A path segment decoded, or undefined when its percent-encoding is malformed (decodeURIComponent throws). */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function mappingCall(
  method: string | undefined,
  uuid: string,
  query: URLSearchParams,
  body: unknown,
  { eventSources }: LambdaControlTarget,
): Answer {
  if (method === 'GET' && uuid === '')
    return { status: 200, body: { EventSourceMappings: listed(eventSources, query) } };
  const source = eventSources.find((s) => s.uuid === uuid);
  if (!source) {
    return fault(
      404,
      'ResourceNotFoundException',
      `The resource you requested does not exist. (Service: Lambda, UUID: ${uuid})`,
    );
  }
  if (method === 'GET') return { status: 200, body: described(source) };
  if (method !== 'PUT') return fault(405, 'UnknownOperationException', `Unknown operation ${method} ${uuid}`);
  const refused = checkMappingUpdate(body);
  if (typeof refused !== 'number') return refused;
  source.setMaxConcurrency(refused);
  return { status: 202, body: described(source) };
}

/** The new MaximumConcurrency, or Lambda's refusal of the update. */
function checkMappingUpdate(body: unknown): number | Answer {
  if (!body || typeof body !== 'object')
    return fault(400, 'InvalidRequestContentException', 'Could not parse request body into json');
  const others = Object.keys(body).filter((k) => k !== 'ScalingConfig' && k !== 'UUID');
  if (others.length > 0) {
    return fault(
      400,
      'InvalidParameterValueException',
      `The local runtime changes only ScalingConfig.MaximumConcurrency of an event source mapping; got ${others.join(', ')}`,
    );
  }
  const maximum = (body as { ScalingConfig?: { MaximumConcurrency?: unknown } }).ScalingConfig
    ?.MaximumConcurrency;
  const { min, max } = MAX_CONCURRENCY_RANGE;
  if (typeof maximum !== 'number' || !Number.isInteger(maximum)) {
    return fault(
      400,
      'InvalidParameterValueException',
      `ScalingConfig.MaximumConcurrency: an integer from ${min} to ${max} is required here (the local poller always has a maximum); got ${JSON.stringify(maximum)}`,
    );
  }
  if (maximum < min || maximum > max) {
    const bound = maximum < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`;
    return fault(
      400,
      'ValidationException',
      `1 validation error detected: Value '${maximum}' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value ${bound}`,
    );
  }
  return maximum;
}

function listed(eventSources: readonly MappedEventSource[], query: URLSearchParams) {
  const fn = query.get('FunctionName');
  const arn = query.get('EventSourceArn');
  return eventSources
    .filter((s) => !fn || s.mapping.functionName === functionNameOf(fn))
    .filter((s) => !arn || s.mapping.queueArn === arn)
    .map(described);
}

/** EventSourceMappingConfiguration, as Lambda describes an SQS mapping. */
function described(source: MappedEventSource) {
  const { uuid, queueArn, functionName, batchSize, maxBatchingWindowMs, maxConcurrency } = source.mapping;
  const [, , , region = 'us-east-1', account = '000000000000'] = queueArn.split(':');
  return {
    UUID: uuid,
    EventSourceArn: queueArn,
    FunctionArn: `arn:aws:lambda:${region}:${account}:function:${functionName}`,
    BatchSize: batchSize,
    MaximumBatchingWindowInSeconds: Math.round(maxBatchingWindowMs / 1000),
    ScalingConfig: { MaximumConcurrency: maxConcurrency },
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    State: 'Enabled',
    StateTransitionReason: 'USER_INITIATED',
  };
}

function concurrencyCall(
  method: string | undefined,
  version: string,
  name: string,
  body: unknown,
  { functions, accountSettings }: LambdaControlTarget,
): Answer {
  const fn = functions.get(name);
  if (!fn)
    return fault(
      404,
      'ResourceNotFoundException',
      `Function not found: arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    );
  const current = () =>
    Number.isFinite(fn.reservedConcurrency) ? { ReservedConcurrentExecutions: fn.reservedConcurrency } : {};
  if (method === 'GET' && version === '2019-09-30') return { status: 200, body: current() };
  if (method === 'DELETE' && version === '2017-10-31') {
    fn.setReservedConcurrency(Number.POSITIVE_INFINITY);
    return { status: 204 };
  }
  if (method !== 'PUT' || version !== '2017-10-31')
    return fault(405, 'UnknownOperationException', `Unknown operation ${method} ${version} concurrency`);
  const reserved = (body as { ReservedConcurrentExecutions?: unknown } | undefined)
    ?.ReservedConcurrentExecutions;
  if (reserved === undefined || reserved === null) {
    return fault(
      400,
      'ValidationException',
      "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null",
    );
  }
  if (typeof reserved !== 'number' || !Number.isInteger(reserved) || reserved < 0) {
    return fault(
      400,
      'ValidationException',
      `1 validation error detected: Value '${JSON.stringify(reserved)}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must be an integer greater than or equal to 0`,
    );
  }
  const limit = accountSettings.concurrentExecutions ?? DEFAULT_CONCURRENT_EXECUTIONS;
  const others = reservedTotal([...functions.values()].filter((f) => f !== fn));
  const minimum = minimumUnreserved(limit);
  if (limit - others - reserved < minimum) {
    return fault(
      400,
      'InvalidParameterValueException',
      `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minimum}].`,
    );
  }
  fn.setReservedConcurrency(reserved);
  return { status: 200, body: { ReservedConcurrentExecutions: reserved } };
}

const TOO_LARGE = Symbol('too large');
const UNPARSEABLE = Symbol('unparseable');

/** The body's JSON (an empty body is `{}`, as the SDK sends for no fields), or why it has none. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (raw === undefined) return TOO_LARGE;
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return UNPARSEABLE;
  }
}
