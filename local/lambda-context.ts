// A real Lambda Context for local invocations: a request id, the function's identity and a deadline that
// `getRemainingTimeInMillis` counts down to, so deadline-aware handlers behave as they do in the cloud.
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { assertInteger } from '../lib/errors.js';

export interface LambdaContextOptions {
  readonly functionName: string;
  /** The invocation's timeout: the deadline is this far from now. */
  readonly timeoutMs: number;
  readonly memoryMb?: number;
  readonly region?: string;
  readonly accountId?: string;
  readonly awsRequestId?: string;
  /** The clock (Date.now by default); tests may pass their own. */
  readonly now?: () => number;
}

export function createLambdaContext({
  functionName,
  timeoutMs,
  memoryMb = 128,
  region = 'us-east-1',
  accountId = '000000000000',
  awsRequestId = randomUUID(),
  now = Date.now,
}: LambdaContextOptions): Context {
  assertInteger('timeoutMs', timeoutMs);
  assertInteger('memoryMb', memoryMb);
  const deadline = now() + timeoutMs;
  const unsupported = (name: string) => () => {
    throw new Error(
      `context.${name}() is the pre-async handler style; return or throw from the handler instead`,
    );
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${awsRequestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
