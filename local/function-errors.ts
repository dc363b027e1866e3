// The two ways the local runtime refuses or ends an invocation as Lambda does: a throttle at the reserved
// concurrency (TooManyRequestsException) and a timeout (Sandbox.Timedout).
import { BoundedFanoutError, ErrorCodes } from '../lib/errors.js';

export const LocalFunctionErrorCodes = {
  THROTTLED: ErrorCodes.LAMBDA_THROTTLED,
  TIMED_OUT: ErrorCodes.LAMBDA_TIMED_OUT,
} as const;

/** Reserved concurrency exhausted: Lambda's TooManyRequestsException. */
export class FunctionThrottledError extends BoundedFanoutError {
  readonly functionName: string;
  constructor(functionName: string, limit: number) {
    super(
      `Rate Exceeded: ${functionName} is at its reserved concurrency of ${limit}`,
      LocalFunctionErrorCodes.THROTTLED,
    );
    this.name = 'TooManyRequestsException';
    this.functionName = functionName;
  }
}

/** The invocation ran past its timeout (Lambda's "Task timed out after N seconds"). */
export class FunctionTimeoutError extends BoundedFanoutError {
  constructor(functionName: string, timeoutMs: number) {
    super(
      `${functionName}: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
      LocalFunctionErrorCodes.TIMED_OUT,
    );
    this.name = 'Sandbox.Timedout';
  }
}
