// The config a local `serve` or `run` runs under, read from its endpoint's health route, so `limits` checks
// values against what that runtime proved rather than cdk.json's: a run started with --worker-concurrency 4 has a
// budget proved for 4, not for cdk.json's 10 (and one started with 30, for 30). Checked as any config is
// (lib/budget validateBudget): a bad one is refused with every problem named, never trusted.
import { validateBudget } from '../../lib/budget/budget.js';
import { type FanoutConfig, withDefaults } from '../../lib/config.js';
import { probeServe } from './local-backend.js';
import { UsageError } from './usage-error.js';

/** The served config at `endpoint`, or undefined when it is not a local runtime that says one (LocalStack). */
export async function servedConfig(endpoint: string): Promise<FanoutConfig | undefined> {
  const served = await probeServe(endpoint);
  if (served?.config === undefined) return undefined;
  const { config } = served;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new UsageError(
      `${endpoint} says it runs under a config that is not an object: ${JSON.stringify(config)}`,
      {
        value: config,
      },
    );
  }
  return validateBudget(withDefaults(config as Partial<FanoutConfig>));
}
