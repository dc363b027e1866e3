// The run and serve commands' flags: what to run (a manifest, a retry, the demo), where the endpoint is, which
// reports to write, and the limits over the shared config.
import type { FanoutConfig } from '../../lib/config.js';
import type { ListenAddress } from '../edge-listen.js';
import { reportFormatOf } from '../report/write.js';
import type { Common, Values } from './command-options.js';
import { downstreamOverride } from './downstream-flag.js';
import { localEndpointUrl } from './endpoint-flag.js';
import { hostOrCidr, integer, manifestValue, oneOf, stringValue } from './flag-values.js';
import { limitOverrides } from './limit-flags.js';
import { listenValue } from './listen-flag.js';
import { applyOverrides } from './shared-config.js';
import { UsageError } from './usage-error.js';

/** Environment variable that sizes the built-in demo when --demo-tasks is not given (tests keep it small). */
export const demoTasksEnv = 'BOUNDED_FANOUT_DEMO_TASKS';
/** The default of --containers (a bench or CI can run every run on threads without changing its flags). */
export const containersEnv = 'BOUNDED_FANOUT_CONTAINERS';
const containerKinds = ['inline', 'threads'] as const;

export interface RunArgs extends Common {
  readonly command: 'run';
  /** The run's own flags as given, kept by `--state DIR` for a resume (local/cli/resume-flags.ts). */
  readonly runFlags?: readonly string[];
  readonly manifest?: string;
  readonly retryFrom?: string;
  readonly reports: readonly string[];
  readonly endpoint?: string;
  /** Where the runtime's one endpoint listens (undefined: 127.0.0.1:4566 when free, else a free port). */
  readonly listen?: ListenAddress;
  /** Demo size (only used without --manifest and --retry-from). */
  readonly demoTasks?: number;
  /** `--ledger off`: run without the job ledger (for measuring its cost). */
  readonly ledger: boolean;
  /** `--containers threads`: each worker container on its own thread (local/thread-container.ts). */
  readonly containers: 'inline' | 'threads';
  /** `--secrets FILE`: values the local endpoint serves for secret references (local/secret-store.ts). */
  readonly secrets?: string;
  /** `--state DIR`: keep the run's data on disk there (local/cli/state-dir.ts). */
  readonly state?: string;
  /** `--resume`: finish the run kept in --state DIR after the process running it was killed. */
  readonly resume: boolean;
  /** The shared config with the flags applied (not yet checked as a whole). */
  readonly config: FanoutConfig;
  readonly overrides: Partial<FanoutConfig>;
}

export interface ServeArgs extends Common {
  readonly command: 'serve';
  readonly listen?: ListenAddress;
  readonly secrets?: string;
  readonly config: FanoutConfig;
  readonly overrides: Partial<FanoutConfig>;
}

export function parseRun(
  values: Values,
  common: Common,
  env: NodeJS.ProcessEnv,
  base: FanoutConfig,
): RunArgs {
  const manifest = manifestValue(values.manifest);
  const retryFrom = stringValue('--retry-from', values['retry-from']);
  if (manifest !== undefined && retryFrom !== undefined) {
    throw new UsageError(
      "--manifest and --retry-from cannot be used together: the retry runs the report's tasks",
      {
        flag: '--retry-from',
      },
    );
  }
  const reports = ((values.report as string[] | undefined) ?? []).map((file) => {
    if (!reportFormatOf(file))
      throw UsageError.invalid('--report', file, 'a file name ending in .json or .html');
    return file;
  });
  const allowHosts = ((values['allow-host'] as string[] | undefined) ?? []).map(hostOrCidr);
  const { endpoint, listen, secrets } = endpointFlags(values);
  const ledger = oneOf('--ledger', values.ledger, ['on', 'off'] as const, 'on') === 'on';
  const containers = oneOf('--containers', values.containers ?? env[containersEnv], containerKinds, 'inline');
  const { state, resume } = stateFlags(values, { manifest, retryFrom, endpoint, ledger });
  checkDownstream(values, endpoint);
  let demoTasks: number | undefined;
  if (values['demo-tasks'] !== undefined) demoTasks = integer('--demo-tasks', values['demo-tasks'], 1);
  else if (env[demoTasksEnv]) demoTasks = integer(demoTasksEnv, env[demoTasksEnv], 1);
  const overrides = {
    ...limitOverrides(values),
    ...(allowHosts.length ? { allowHosts } : {}),
    ...downstreamOverride(values.downstream),
  };
  return {
    command: 'run',
    ...common,
    manifest,
    retryFrom,
    reports,
    endpoint,
    listen,
    demoTasks,
    ledger,
    containers,
    secrets,
    ...(state !== undefined ? { state } : {}),
    resume,
    overrides,
    config: applyOverrides(base, overrides),
  };
}

/**
 * `--endpoint URL`, `--listen` and `--secrets FILE`: against --endpoint the run serves no endpoint of its own, so
 * it neither listens nor serves secrets.
 */
function endpointFlags(values: Values): { endpoint?: string; listen?: ListenAddress; secrets?: string } {
  const endpoint =
    values.endpoint === undefined ? undefined : localEndpointUrl('--endpoint', values.endpoint);
  const listen = listenValue(values);
  if (endpoint !== undefined && listen !== undefined) {
    throw new UsageError(
      '--listen and --endpoint cannot be used together: against --endpoint the run serves no endpoint of its own',
      { flag: '--listen' },
    );
  }
  const secrets = stringValue('--secrets', values.secrets);
  if (secrets !== undefined && endpoint !== undefined) {
    throw new UsageError('--secrets and --endpoint cannot be used together: give --secrets to the serve', {
      flag: '--secrets',
    });
  }
  return { endpoint, listen, secrets };
}

/** `--downstream FILE` configures the functions that send the requests: against --endpoint those are the serve's. */
function checkDownstream(values: Values, endpoint: string | undefined): void {
  if (values.downstream !== undefined && endpoint !== undefined) {
    throw new UsageError(
      '--downstream and --endpoint cannot be used together: give --downstream to the serve, whose functions send the requests',
      { flag: '--downstream' },
    );
  }
}

/** `--state DIR` and `--resume`: only on the embedded runtime; a resume takes its manifest from DIR. */
function stateFlags(
  values: Values,
  {
    manifest,
    retryFrom,
    endpoint,
    ledger,
  }: { manifest?: string; retryFrom?: string; endpoint?: string; ledger: boolean },
): { state?: string; resume: boolean } {
  const state = stringValue('--state', values.state);
  const resume = values.resume === true;
  if (resume && state === undefined) {
    throw new UsageError('--resume needs --state DIR: it finishes the run kept there', { flag: '--resume' });
  }
  if (state !== undefined && endpoint !== undefined) {
    throw new UsageError(
      "--state and --endpoint cannot be used together: --state keeps the embedded emulators' data",
      { flag: '--state' },
    );
  }
  if (state !== undefined && !ledger) {
    throw new UsageError(
      '--state and --ledger off cannot be used together: a resumed run counts both processes from the job ledger',
      { flag: '--ledger' },
    );
  }
  if (state !== undefined && !resume && manifest === undefined) {
    throw new UsageError(
      '--state needs --manifest FILE: a resume reads the same manifest again (the demo and --retry-from are not kept)',
      { flag: '--state' },
    );
  }
  if (resume && (manifest !== undefined || retryFrom !== undefined)) {
    throw new UsageError(
      `--resume and ${manifest !== undefined ? '--manifest' : '--retry-from'} cannot be used together: the resume runs the manifest kept in --state DIR`,
      { flag: '--resume' },
    );
  }
  return { ...(state !== undefined ? { state } : {}), resume };
}

export function parseServe(values: Values, common: Common, base: FanoutConfig): ServeArgs {
  const allowHosts = ((values['allow-host'] as string[] | undefined) ?? []).map(hostOrCidr);
  const overrides = {
    ...limitOverrides(values),
    ...(allowHosts.length ? { allowHosts } : {}),
    ...downstreamOverride(values.downstream),
  };
  return {
    command: 'serve',
    ...common,
    listen: listenValue(values),
    secrets: stringValue('--secrets', values.secrets),
    overrides,
    config: applyOverrides(base, overrides),
  };
}
