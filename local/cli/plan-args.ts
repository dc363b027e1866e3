// The plan command's flags: the job's size (a manifest or --tasks), the latency to plan with, and where to read
// the account's Lambda concurrency.
import type { FanoutConfig } from '../../lib/config.js';
import type { Common, Values } from './command-options.js';
import { downstreamOverride } from './downstream-flag.js';
import { endpointUrl, integer, manifestValue, stringValue } from './flag-values.js';
import { limitOverrides } from './limit-flags.js';
import { applyOverrides } from './shared-config.js';
import { UsageError } from './usage-error.js';

export interface PlanArgs extends Common {
  readonly command: 'plan';
  readonly manifest?: string;
  readonly tasks?: number;
  readonly latencyMs: number;
  /** Where to read the account's Lambda concurrency (--endpoint, or --account for AWS); undefined: not asked. */
  readonly account?: { readonly endpoint?: string; readonly region?: string };
  readonly config: FanoutConfig;
  readonly overrides: Partial<FanoutConfig>;
}

export function parsePlan(values: Values, common: Common, base: FanoutConfig): PlanArgs {
  const overrides = { ...limitOverrides(values), ...downstreamOverride(values.downstream) };
  const tasks = values.tasks === undefined ? undefined : integer('--tasks', values.tasks, 1);
  const manifest = manifestValue(values.manifest);
  if (tasks !== undefined && manifest !== undefined) {
    throw new UsageError('--tasks and --manifest cannot be used together: the manifest gives the count', {
      flag: '--tasks',
    });
  }
  const endpoint = values.endpoint === undefined ? undefined : endpointUrl(values.endpoint);
  const region = stringValue('--region', values.region);
  const asked = values.account === true || endpoint !== undefined;
  return {
    command: 'plan',
    ...common,
    manifest,
    tasks,
    ...(asked ? { account: { endpoint, region } } : {}),
    latencyMs: values['latency-ms'] === undefined ? 100 : integer('--latency-ms', values['latency-ms'], 1),
    overrides,
    config: applyOverrides(base, overrides),
  };
}
