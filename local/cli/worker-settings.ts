// The worker's Lambda settings `limits` can lower while a job runs: the SQS event source's MaximumConcurrency
// (UpdateEventSourceMapping on the mapping from the stack's work queue) and the worker's reserved concurrency
// (PutFunctionConcurrency). AWS, LocalStack and the local runtime's `run` and `serve` (local/lambda-control.ts)
// have both; an endpoint without them is told apart with one line and exit code 2.
import {
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
}

/** Applies each setting given, the event source first; returns one line per change made. */
export async function applyWorkerSettings(target: WorkerTarget, settings: WorkerSettings): Promise<string[]> {
  const lines: string[] = [];
  const { eventSourceMaxConcurrency: maximum, workerReservedConcurrency: reserved } = settings;
  if (maximum !== undefined) {
    const uuid = await call(target, 'eventSourceMaxConcurrency', lines, () => workQueueMapping(target));
    await call(target, 'eventSourceMaxConcurrency', lines, () =>
      target.lambda.send(
        new UpdateEventSourceMappingCommand({ UUID: uuid, ScalingConfig: { MaximumConcurrency: maximum } }),
      ),
    );
    lines.push(
      `event source ${target.names.queue} -> ${target.names.worker}: maximum concurrency ${maximum}`,
    );
  }
  if (reserved !== undefined) {
    await call(target, 'workerReservedConcurrency', lines, () =>
      target.lambda.send(
        new PutFunctionConcurrencyCommand({
          FunctionName: target.names.worker,
          ReservedConcurrentExecutions: reserved,
        }),
      ),
    );
    lines.push(`function ${target.names.worker}: reserved concurrency ${reserved}`);
  }
  return lines;
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
