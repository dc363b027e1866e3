// The functions' config at cold start: BOUNDED_FANOUT_CONFIG is required (no fallback to defaults), checked
// with the synth's schema, and inside Lambda with validateBudget's rules too. createRuntime is the entry the
// handlers use, so the checks are pinned through it as well as through fromEnvironment.
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../../functions/runtime.js';
import {
  CONFIG_ENVIRONMENT_ERROR_CODE,
  ConfigEnvironmentError,
  fromEnvironment,
} from '../../../lib/budget/config-environment.js';
import { functionConfig, toEnvironment, withDefaults } from '../../../lib/config.js';

const lambda = { AWS_LAMBDA_FUNCTION_NAME: 'bounded-fanout-worker' };
const env = (config: unknown, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  BOUNDED_FANOUT_CONFIG: typeof config === 'string' ? config : JSON.stringify(config),
  ...extra,
});

function refusal(read: () => unknown): ConfigEnvironmentError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigEnvironmentError);
    expect((error as ConfigEnvironmentError).code).toBe(CONFIG_ENVIRONMENT_ERROR_CODE);
    return error as ConfigEnvironmentError;
  }
  throw new Error('the config was accepted');
}

describe('fromEnvironment', () => {
  it('reads the config the stack writes, the same inside and outside Lambda', () => {
    const config = functionConfig(withDefaults({ workerMaxConcurrency: 20, workerReservedConcurrency: 24 }));
    expect(fromEnvironment(env(toEnvironment(config)))).toEqual(config);
    expect(fromEnvironment(env(toEnvironment(config), lambda))).toEqual(config);
  });

  it('fills the fields a partial config leaves out with the defaults', () => {
    expect(fromEnvironment(env({ idempotency: 'off' }))).toEqual(withDefaults({ idempotency: 'off' }));
  });

  it('refuses a missing variable inside Lambda, naming it, instead of running on defaults', () => {
    expect(refusal(() => fromEnvironment(lambda)).message).toBe(
      'BOUNDED_FANOUT_CONFIG: is not set: the functions take every limit from it; inside Lambda (AWS_LAMBDA_FUNCTION_NAME=bounded-fanout-worker) the stack sets it',
    );
    expect(refusal(() => fromEnvironment({ ...lambda, BOUNDED_FANOUT_CONFIG: ' ' })).message).toContain(
      'BOUNDED_FANOUT_CONFIG: is not set',
    );
  });

  it('refuses a missing variable outside Lambda too: no implicit defaults anywhere', () => {
    expect(refusal(() => fromEnvironment({})).message).toBe(
      'BOUNDED_FANOUT_CONFIG: is not set: the functions take every limit from it; set it to the config as JSON (toEnvironment(functionConfig(config)))',
    );
  });

  it('refuses text that is not JSON, and JSON that is not an object', () => {
    expect(refusal(() => fromEnvironment(env('{workerMaxConcurrency: 3}'))).message).toMatch(
      /^BOUNDED_FANOUT_CONFIG: is not valid JSON: /,
    );
    expect(refusal(() => fromEnvironment(env('[1,2]'))).message).toBe(
      'BOUNDED_FANOUT_CONFIG: [1,2] is not a JSON object',
    );
    expect(refusal(() => fromEnvironment(env('"fast"'))).message).toBe(
      'BOUNDED_FANOUT_CONFIG: "fast" is not a JSON object',
    );
  });

  it('refuses a bad value, naming the field and the value, inside and outside Lambda', () => {
    const bad = { workerMaxConcurrency: 0, maxSockets: '64' };
    const expected = [
      'BOUNDED_FANOUT_CONFIG: Invalid concurrency budget (2 problems):',
      '  - workerMaxConcurrency: 0 is below 2 (the SQS event source takes 2..1000)',
      '  - maxSockets: "64" is not a number',
    ];
    const outside = refusal(() => fromEnvironment(env(bad)));
    expect(outside.message.split('\n')).toEqual(expected);
    expect(outside.problems.map((p) => p.path)).toEqual(['workerMaxConcurrency', 'maxSockets']);
    expect(refusal(() => fromEnvironment(env(bad, lambda))).message.split('\n')).toEqual(expected);
  });

  it("applies validateBudget's rules across values inside Lambda only", () => {
    // Tests and the local runtime run the handlers with short visibility timeouts no deploy would take.
    const short = { visibilityTimeoutSeconds: 30 };
    expect(fromEnvironment(env(short)).visibilityTimeoutSeconds).toBe(30);
    expect(refusal(() => fromEnvironment(env(short, lambda))).message.split('\n')).toEqual([
      'BOUNDED_FANOUT_CONFIG: Invalid concurrency budget (1 problem):',
      "  - visibilityTimeoutSeconds: 30 is below 6 x workerTimeoutSeconds = 6 x 60 = 360 (AWS's advice for an SQS event source): a message would be received again while its batch still runs",
    ]);
  });
});

describe('createRuntime', () => {
  it('stops the cold start on a missing or bad config, before any client is made', () => {
    expect(() => createRuntime(lambda)).toThrow(
      'BOUNDED_FANOUT_CONFIG: is not set: the functions take every limit from it; inside Lambda (AWS_LAMBDA_FUNCTION_NAME=bounded-fanout-worker) the stack sets it',
    );
    expect(() => createRuntime(env({ perInvocationConcurrency: -1 }))).toThrow(
      'BOUNDED_FANOUT_CONFIG: Invalid concurrency budget (1 problem):\n  - perInvocationConcurrency: -1 is below 1',
    );
  });
});
