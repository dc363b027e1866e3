// The AWS side of secret references: Powertools' parameters utility over the Secrets Manager and SSM clients
// (endpoints from the SDK's own AWS_ENDPOINT_URL_* resolution, so the local edge answers in local runs). One
// resolver per container: Powertools caches each value for `maxAgeSeconds`, and concurrent first reads of
// one reference share one call. A reference outside the configured prefixes is refused before any call
// (the role could not read it anyway). Errors name the reference and the service's error class, never a
// value and never the service's message.

import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { NodeAgents } from '../http/node-agents.js';
import {
  type EnvRef,
  type ParameterRef,
  SecretErrorCodes,
  type SecretRef,
  SecretRefError,
  type SecretResolver,
  type SecretsManagerRef,
} from '../http/secret-ref.js';
import type { SecretsConfig } from '../secrets-config.js';

export interface AwsSecretResolverOptions {
  readonly config: SecretsConfig;
  /** AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1 unless given. */
  readonly region?: string;
  /** The container's bounded sockets for AWS (createAwsClients' agents); the SDK's own when not given. */
  readonly agents?: NodeAgents;
  /** Read `{ "env": NAME }` references from `env` (the local runtime only); refused when false. */
  readonly allowEnv?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export interface AwsSecretResolver extends SecretResolver {
  destroy(): void;
}

/** Variables of the runtime itself, never sent as a header whatever a manifest asks. */
const OWN_VARIABLES = /^(AWS_|BOUNDED_FANOUT_)/;

export function createSecretResolver(options: AwsSecretResolverOptions): AwsSecretResolver {
  const { config, agents, allowEnv = false, env = process.env } = options;
  const region = options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1');
  const aws = lazyProviders(region, agents);
  const inFlight = new Map<string, Promise<string | undefined>>();
  // One call per reference at a time; Powertools' cache answers the rest within maxAgeSeconds.
  const once = (key: string, read: () => Promise<string | undefined>) => {
    let pending = inFlight.get(key);
    if (!pending) {
      pending = read().finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
  const maxAge = config.maxAgeSeconds;

  const readSecret = async (ref: SecretsManagerRef): Promise<string> => {
    const name = ref.secret.slice(ref.secret.indexOf(':secret:') + ':secret:'.length);
    if (!name.startsWith(config.secretsManagerPrefix)) {
      throw refused(ref, `secrets.secretsManagerPrefix ${JSON.stringify(config.secretsManagerPrefix)}`);
    }
    const raw = await once(`secret:${ref.secret}`, () =>
      fetched(ref, () => aws.get().secrets.get(ref.secret, { maxAge }) as Promise<string | undefined>),
    );
    if (raw === undefined) throw new SecretRefError(ref, 'has no string value (SecretString)');
    return ref.jsonKey === undefined ? raw : pick(ref, raw, ref.jsonKey);
  };

  const readParameter = async (ref: ParameterRef): Promise<string> => {
    if (!ref.ssm.startsWith(config.ssmPrefix)) {
      throw refused(ref, `secrets.ssmPrefix ${JSON.stringify(config.ssmPrefix)}`);
    }
    const value = await once(`ssm:${ref.ssm}`, () =>
      fetched(ref, () => aws.get().ssm.get(ref.ssm, { maxAge, decrypt: true })),
    );
    if (value === undefined) throw new SecretRefError(ref, 'has no value');
    return value;
  };

  return {
    resolve(ref: SecretRef): Promise<string> {
      if ('secret' in ref) return readSecret(ref);
      if ('ssm' in ref) return readParameter(ref);
      return readEnv(ref, allowEnv, env);
    },
    destroy() {
      aws.destroy();
    },
  };
}

/**
 * The Secrets Manager and SSM providers, made on first use: a container whose tasks name no secret builds
 * no client.
 */
function lazyProviders(region: string, agents: NodeAgents | undefined) {
  let clients: { secrets: SecretsManagerClient; ssm: SSMClient } | undefined;
  let providers: { secrets: SecretsProvider; ssm: SSMProvider } | undefined;
  const get = () => {
    if (!providers) {
      const handler = () => (agents ? new NodeHttpHandler({ ...agents, connectionTimeout: 0 }) : undefined);
      clients = {
        secrets: new SecretsManagerClient({ region, requestHandler: handler() }),
        ssm: new SSMClient({ region, requestHandler: handler() }),
      };
      providers = {
        secrets: new SecretsProvider({ awsSdkV3Client: clients.secrets }),
        ssm: new SSMProvider({ awsSdkV3Client: clients.ssm }),
      };
    }
    return providers;
  };
  const destroy = () => {
    clients?.secrets.destroy();
    clients?.ssm.destroy();
  };
  return { get, destroy };
}

/** An `{ "env": NAME }` reference: the local runtime's own environment, never the runtime's variables. */
async function readEnv(ref: EnvRef, allowEnv: boolean, env: NodeJS.ProcessEnv): Promise<string> {
  if (!allowEnv) {
    throw new SecretRefError(
      ref,
      'is refused: environment references are read by the local runtime only (use "secret" or "ssm" in AWS)',
      SecretErrorCodes.REFUSED,
    );
  }
  if (OWN_VARIABLES.test(ref.env)) {
    throw new SecretRefError(
      ref,
      "is refused: the runtime's own variables (AWS_*, BOUNDED_FANOUT_*) are never sent",
      SecretErrorCodes.REFUSED,
    );
  }
  const value = env[ref.env];
  if (value === undefined) throw new SecretRefError(ref, 'is not set');
  return value;
}

const refused = (ref: SecretRef, where: string) =>
  new SecretRefError(
    ref,
    `is refused: it is outside ${where}, the only names this stack may read`,
    SecretErrorCodes.REFUSED,
  );

// Powertools wraps the SDK's error (GetParameterError, cause: the SDK's); its class says what went wrong.
async function fetched<T>(ref: SecretRef, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    const cause = (error as { cause?: { name?: unknown } })?.cause;
    const name = typeof cause?.name === 'string' ? cause.name : ((error as Error)?.name ?? 'Error');
    throw new SecretRefError(ref, `could not be read (${name})`);
  }
}

// Parsed here, not by Powertools' json transform: a JSON error message may quote the text it failed on.
function pick(ref: SecretsManagerRef, raw: string, key: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SecretRefError(ref, 'is not a JSON object, so jsonKey cannot pick a field of it');
  }
  const value =
    parsed !== null && typeof parsed === 'object' && Object.hasOwn(parsed, key)
      ? (parsed as Record<string, unknown>)[key]
      : undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new SecretRefError(ref, `has no string field ${JSON.stringify(key)}`);
}
