// The functions' config as they read it at cold start, from the one variable the stack (and the local runtime)
// sets: checked with the schema the synth uses, so a missing or bad value stops the container at start with the
// variable, the field and the value named, instead of running on defaults the stack never deployed.

import { EnvVars, type FanoutConfig, withDefaults } from '../config.js';
import { BoundedFanoutError, describe, ErrorCodes } from '../errors.js';
import { validateBudget } from './budget.js';
import { BudgetError, type BudgetProblem, fieldProblems } from './budget-schema.js';

export const CONFIG_ENVIRONMENT_ERROR_CODE = ErrorCodes.CONFIG_ENVIRONMENT;

/** Set by Lambda in every execution environment: its presence says the code runs in Lambda. */
export const LAMBDA_FUNCTION_NAME_VAR = 'AWS_LAMBDA_FUNCTION_NAME';

/** BOUNDED_FANOUT_CONFIG missing, not JSON, not an object, or with values validateBudget refuses. */
export class ConfigEnvironmentError extends BoundedFanoutError {
  readonly variable = EnvVars.CONFIG;
  /** The values refused, each with its path and what is wrong (empty when the variable itself is the problem). */
  readonly problems: readonly BudgetProblem[];
  constructor(message: string, problems: readonly BudgetProblem[] = [], options?: ErrorOptions) {
    super(`${EnvVars.CONFIG}: ${message}`, CONFIG_ENVIRONMENT_ERROR_CODE, options);
    this.name = 'ConfigEnvironmentError';
    this.problems = problems;
  }
}

export function inLambda(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env[LAMBDA_FUNCTION_NAME_VAR]);
}

/**
 * Reads and checks the config from BOUNDED_FANOUT_CONFIG. The variable is required everywhere: nothing falls
 * back to defaults (the stack and the local runtime always set it; a test sets it too). Fields it leaves out
 * take the defaults (withDefaults), and then:
 * - inside Lambda (AWS_LAMBDA_FUNCTION_NAME set) the whole of validateBudget applies, as at synth: a config
 *   the stack would refuse does not run;
 * - outside Lambda (tests, the local runtime) each value is checked on its own (the schema), not the rules
 *   across values: tests run the handlers with deliberately short visibility timeouts and margins that no
 *   deploy would take, and `bounded-fanout run` has applied validateBudget before it sets the variable.
 */
export function fromEnvironment(env: NodeJS.ProcessEnv = process.env): FanoutConfig {
  const raw = env[EnvVars.CONFIG];
  if (raw === undefined || raw.trim() === '') {
    const where = inLambda(env)
      ? `inside Lambda (${LAMBDA_FUNCTION_NAME_VAR}=${env[LAMBDA_FUNCTION_NAME_VAR]}) the stack sets it`
      : 'set it to the config as JSON (toEnvironment(functionConfig(config)))';
    throw new ConfigEnvironmentError(`is not set: the functions take every limit from it; ${where}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigEnvironmentError(`is not valid JSON: ${(error as Error).message}`, [], { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigEnvironmentError(`${describe(parsed)} is not a JSON object`);
  }
  const config = withDefaults(parsed as Partial<FanoutConfig>);
  try {
    if (inLambda(env)) return validateBudget(config);
    const problems = fieldProblems(config);
    if (problems.length > 0) throw new BudgetError(problems);
    return config;
  } catch (error) {
    if (!(error instanceof BudgetError)) throw error;
    throw new ConfigEnvironmentError(error.message, error.problems, { cause: error });
  }
}
