import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { createLambdaContext } from '../../local/lambda-context.js';

describe('createLambdaContext', () => {
  it('counts the remaining time down to the deadline and never below zero', () => {
    let now = 1_000;
    const context = createLambdaContext({ functionName: 'fn', timeoutMs: 500, now: () => now });
    expect(context.getRemainingTimeInMillis()).toBe(500);
    now += 200;
    expect(context.getRemainingTimeInMillis()).toBe(300);
    now += 1_000;
    expect(context.getRemainingTimeInMillis()).toBe(0);
  });

  it('carries the function identity and a request id', () => {
    const context = createLambdaContext({ functionName: 'bf-worker', timeoutMs: 1_000, memoryMb: 512 });
    expect(context.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:bf-worker');
    expect(context.memoryLimitInMB).toBe('512');
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => context.succeed('x')).toThrow(/pre-async handler style/);
  });

  it('refuses a timeout that is not a positive integer, naming it', () => {
    expect(() => createLambdaContext({ functionName: 'fn', timeoutMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => createLambdaContext({ functionName: 'fn', timeoutMs: 1.5 })).toThrow(/timeoutMs/);
  });
});
