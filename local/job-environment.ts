import {
  EnvVars,
  type FanoutConfig,
  functionConfig,
  type resourceNames,
  toEnvironment,
} from '../lib/config.js';
import { type BackendInfo, backendEnvironment } from './backend.js';
import { ownEndpointEntries } from './own-endpoints.js';
import type { LocalResources } from './resources.js';

// The process environment a local run's functions read, as the stack sets it on the Lambdas. Their DynamoDB
// calls go straight to the DynamoDB front when one local endpoint stands before it (BackendInfo.functionsDynamodb):
// the endpoint would only pass them on, at a cost on the pipeline's thread. Users still see the one endpoint.

export function jobEnvironment(
  config: FanoutConfig,
  backend: BackendInfo,
  resources: LocalResources,
  names: ReturnType<typeof resourceNames>,
  lambdaEndpoint: string,
  ledger = true,
): Record<string, string> {
  return {
    ...backendEnvironment(backend, lambdaEndpoint),
    ...(backend.functionsDynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: backend.functionsDynamodb } : {}),
    [EnvVars.CONFIG]: toEnvironment(functionConfig(config)),
    [EnvVars.REFUSE_HOSTS]: ownEndpointEntries([
      ...Object.values(backend.endpoints),
      ...(backend.listening ?? []),
      lambdaEndpoint,
      backend.edge?.url,
    ]).join(','),
    [EnvVars.QUEUE_URL]: resources.queueUrl,
    [EnvVars.DLQ_URL]: resources.deadLetterQueueUrl,
    [EnvVars.IDEMPOTENCY_TABLE]: resources.idempotencyTable,
    [EnvVars.JOB_TABLE]: ledger ? resources.jobTable : '',
    [EnvVars.BUCKET]: resources.bucket,
    [EnvVars.WORKER_FUNCTION]: names.worker,
    [EnvVars.ORCHESTRATOR_FUNCTION]: names.orchestrator,
    // `{ "env": NAME }` header references read this process's environment (refused in Lambda).
    [EnvVars.SECRETS_FROM_ENV]: '1',
    // One JSON line per log record and EMF metrics on: the runtime reads the worker's counts from them.
    POWERTOOLS_DEV: 'false',
    POWERTOOLS_METRICS_DISABLED: 'false',
  };
}

/** Sets the variables for the run; the returned function puts the previous values back. */
export function withEnvironment(vars: Record<string, string>): () => void {
  const previous = new Map(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
