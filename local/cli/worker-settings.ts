// The worker's Lambda settings `limits` can lower while a job runs: the SQS event source's MaximumConcurrency
// (UpdateEventSourceMapping on the mapping from the stack's work queue) and the worker's reserved concurrency
// (PutFunctionConcurrency). AWS, LocalStack and the local runtime's `run` and `serve` (local/lambda-control.ts)
// have both; an endpoint without them is told apart with one line and exit code 2.
import {
  GetFunctionConcurrencyCommand,
  type LambdaClient,
  ListEventSourceMappingsCommand,
  PutFunctionConcurrencyCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import type { WorkerSettings } from '../../lib/ledger/run-limits.js';
import type { ResourceNames } from './ledger-target.js';
import { asEndpointError, EndpointError } from './sqs-endpoint.js';
import { UsageError } from './usage-error.js';

export interface WorkerTarget {
  readonly lambda: LambdaClient;
  readonly names: ResourceNames;
  /** Undefined: AWS. */
  readonly endpoint?: string;
  /**
   * The orchestrators' direct invokes of the worker at most (invokeConcurrency x orchestrators): they share its
   * reservation with the poller, so a maximum raised alone is checked against the reservation as it is now.
   */
  readonly directInvokes?: number;
}

/**
 * Applies each setting given; returns one line per change made. Both given, the one that keeps the step between
 * them safe goes first: a raised reservation before the maximum (the poller never outgrows the old one), else
 * the maximum first (a lowered reservation never caps the old maximum).
 */
export async function applyWorkerSettings(target: WorkerTarget, settings: WorkerSettings): Promise<string[]> {
  const lines: string[] = [];
  const { eventSourceMaxConcurrency: maximum, workerReservedConcurrency: reserved } = settings;
  const setMaximum = async () => {
    if (maximum === undefined) return;
    const uuid = await call(target, 'eventSourceMaxConcurrency', lines, () => workQueueMapping(target));
    if (reserved === undefined) await checkReservationNow(target, maximum);
    await call(target, 'eventSourceMaxConcurrency', lines, () =>
      target.lambda.send(
        new UpdateEventSourceMappingCommand({ UUID: uuid, ScalingConfig: { MaximumConcurrency: maximum } }),
      ),
    );
    lines.push(
      `event source ${target.names.queue} -> ${target.names.worker}: maximum concurrency ${maximum}`,
    );
  };
  const setReserved = async () => {
    if (reserved === undefined) return;
    await call(target, 'workerReservedConcurrency', lines, () =>
      target.lambda.send(
        new PutFunctionConcurrencyCommand({
          FunctionName: target.names.worker,
          ReservedConcurrentExecutions: reserved,
        }),
      ),
    );
    lines.push(`function ${target.names.worker}: reserved concurrency ${reserved}`);
  };
  const raised =
    maximum !== undefined &&
    reserved !== undefined &&
    reserved > ((await reservationNow(target, 'workerReservedConcurrency')) ?? Infinity);
  for (const step of raised ? [setReserved, setMaximum] : [setMaximum, setReserved]) await step();
  return lines;
}

/** The worker's reservation in force now (undefined: none). */
async function reservationNow(target: WorkerTarget, key: string): Promise<number | undefined> {
  const { ReservedConcurrentExecutions } = await call(target, key, [], () =>
    target.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: target.names.worker })),
  );
  return ReservedConcurrentExecutions;
}

/**
 * A maximum given without a reservation is safe only if the reservation in force now (an earlier `limits` may
 * have lowered it below the deployed one) still covers it and the direct invokes: else the poller would be
 * throttled and its messages reach the dead-letter queue unprocessed. Refused then, nothing changed.
 */
async function checkReservationNow(target: WorkerTarget, maximum: number): Promise<void> {
  const now = await reservationNow(target, 'eventSourceMaxConcurrency');
  const invokes = target.directInvokes ?? 0;
  if (now === undefined || now >= maximum + invokes) return;
  throw new UsageError(
    `eventSourceMaxConcurrency: ${maximum} + invokeConcurrency x orchestrators (${invokes}) = ${maximum + invokes} is above function ${target.names.worker}'s reserved concurrency now (${now}): the poller would be throttled, and throttled messages count toward maxReceiveCount; give workerReservedConcurrency=${maximum + invokes} (or more) with it`,
    { value: maximum },
  );
}

/** The UUID of the mapping from the stack's work queue to its worker. */
async function workQueueMapping(target: WorkerTarget): Promise<string> {
  const { EventSourceMappings = [] } = await target.lambda.send(
    new ListEventSourceMappingsCommand({ FunctionName: target.names.worker }),
  );
  const mapping = EventSourceMappings.find((m) => m.EventSourceArn?.endsWith(`:${target.names.queue}`));
  if (mapping?.UUID) return mapping.UUID;
  throw new UsageError(
    `eventSourceMaxConcurrency: no event source mapping from queue ${target.names.queue} to function ${target.names.worker} ${target.endpoint ? `at ${target.endpoint}` : 'in AWS'} (see --prefix)`,
    { flag: '--prefix' },
  );
}

/** What Lambda answers a value it refuses: the endpoint has the call, the value is the problem. */
const REFUSALS = new Set([
  'ValidationException',
  'InvalidParameterValueException',
  'ResourceConflictException',
]);

/**
 * An endpoint that refuses the value says why (its message, as AWS's errors are shown); one that answers, but
 * not the Lambda API (or not this part of it), cannot take the setting. `done`: the changes already made.
 */
async function call<T>(target: WorkerTarget, key: string, done: string[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!target.endpoint || error instanceof UsageError) throw error;
    const translated = asEndpointError(target.endpoint, error);
    if (translated instanceof EndpointError) throw translated;
    const { name = 'Error', message } = error as { name?: string; message?: string };
    const already = done.length > 0 ? ` (already made: ${done.join('; ')})` : '';
    const reason = REFUSALS.has(name)
      ? `${message}`
      : "it does not answer Lambda's control plane there (a local `run` or `serve`, LocalStack and AWS do); check --endpoint and --prefix";
    throw new UsageError(
      `${key}: ${target.endpoint} refused it for function ${target.names.worker} (${name}): ${reason}${already}`,
      { value: key },
      { cause: error },
    );
  }
}
