// Lambda's on-failure destination for asynchronous invocations, locally: an event that failed its last retry
// goes, besides its dead-letter queue, to the function the stack names as its destination (the orchestrator's
// is the worker: cdk/functions.ts), invoked asynchronously with Lambda's invocation record: the request's
// context (its id, the function, why it failed for good, how many attempts), the event itself as
// `requestPayload`, and the function's error as `responsePayload`.
import type { ExhaustedEvent } from './async-dead-letters.js';

/** Per function name, the function its failed events go to. */
export type FailureDestinations = Readonly<Record<string, string>>;

/** The on-failure destinations the stack configures: the orchestrator's failed events to the worker. */
export function stackFailureDestinations(names: {
  readonly orchestrator: string;
  readonly worker: string;
}): FailureDestinations {
  return { [names.orchestrator]: names.worker };
}

/** An exhausted event, with the attempts it was given. */
export interface FailedEvent extends ExhaustedEvent {
  readonly attempts: number;
}

/** Lambda's invocation record of an event that failed its every attempt, as the destination receives it. */
export function failureRecord({ functionName, payload, requestId, error, attempts }: FailedEvent) {
  const err = error as { name?: unknown; message?: unknown } | undefined;
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId,
      functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: attempts,
    },
    requestPayload: payload,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: {
      errorType: typeof err?.name === 'string' ? err.name : 'Error',
      errorMessage: typeof err?.message === 'string' ? err.message : String(error),
    },
  };
}
