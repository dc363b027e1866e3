// Picks the AWS side the local runtime talks to: LocalStack in a container where a container runtime
// answers (checked first, in about a second), otherwise the embedded emulators. Either way the handlers
// see only the standard endpoint variables, so the same code runs against AWS, LocalStack and the emulators.
// LocalStack plays SQS, S3, DynamoDB and EventBridge only: the functions always run in this process, driven by
// the local poller and the local Invoke endpoint. The embedded emulators come with the one local endpoint
// (local/edge.ts), which also answers EventBridge's PutEvents; with `edge` set, every service is reached through
// it (the CLI), otherwise the emulators are reached directly and the endpoint serves EventBridge (tests).
import { InvalidArgumentError } from '../lib/errors.js';
import { type ProbeResult, probeContainerRuntime } from './container-runtime.js';
import { Edge } from './edge.js';
import type { ListenAddress } from './edge-listen.js';
import { type Endpoints, startEmulators } from './emulators.js';

export const BackendKinds = { AUTO: 'auto', EMULATORS: 'emulators', LOCALSTACK: 'localstack' } as const;
export type BackendKind = (typeof BackendKinds)[keyof typeof BackendKinds];
type StartedKind = Exclude<BackendKind, 'auto'>;

/** LocalStack tags up to 4.14.0 run without an auth token; later ones need LOCALSTACK_AUTH_TOKEN. */
export const DEFAULT_LOCALSTACK_IMAGE = 'localstack/localstack:4.14.0';
/** Environment variable that forces a backend: auto (the default), emulators or localstack. */
export const BACKEND_ENV = 'BOUNDED_FANOUT_BACKEND';

export interface BackendInfo {
  readonly kind: StartedKind;
  readonly endpoints: Endpoints;
  readonly region: string;
  /** One line saying what runs and why it was chosen. */
  readonly description: string;
  /** The one local endpoint in front of the embedded emulators (absent with LocalStack or --endpoint). */
  readonly edge?: Edge;
  /** The servers behind the endpoints (the emulators' own ports), refused to tasks like the endpoints. */
  readonly listening?: readonly string[];
  /**
   * Where the runtime's own functions reach DynamoDB when that differs from `endpoints.dynamodb`: the DynamoDB
   * front itself, behind the one local endpoint (local/job-environment.ts).
   */
  readonly functionsDynamodb?: string;
}

export interface Backend extends BackendInfo {
  stop(): Promise<void>;
}

export interface StartBackendOptions {
  readonly kind?: BackendKind;
  readonly region?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the choice is printed; pass `() => {}` to stay quiet. */
  readonly log?: (line: string) => void;
  /**
   * Reach every service through the one local endpoint, listening here (default 127.0.0.1:4566 when free,
   * else a free port). Without it the embedded emulators are reached directly and the endpoint, on a free
   * port, serves EventBridge only.
   */
  readonly edge?: { readonly listen?: ListenAddress };
  /** The embedded emulators' DynamoDB store on disk (`run --state DIR`); ignored for LocalStack. */
  readonly dynamoPath?: string;
}

export async function startBackend({
  kind,
  region = 'us-east-1',
  env = process.env,
  log = (line) => console.log(line),
  edge,
  dynamoPath,
}: StartBackendOptions = {}): Promise<Backend> {
  const wanted = kind ?? (env[BACKEND_ENV] as BackendKind | undefined) ?? BackendKinds.AUTO;
  if (!Object.values(BackendKinds).includes(wanted)) {
    throw new InvalidArgumentError(BACKEND_ENV, wanted, 'one of auto, emulators, localstack');
  }
  let probe: ProbeResult | undefined;
  if (wanted !== BackendKinds.EMULATORS) {
    probe = await probeContainerRuntime(env);
    if (!probe.runtime && wanted === BackendKinds.LOCALSTACK) {
      throw new Error(
        `LocalStack was asked for, but no container runtime answers (${probe.tried.join('; ')})`,
      );
    }
  }
  const backend = probe?.runtime
    ? await startLocalStack(probe.runtime.dockerHost, region, env)
    : await startEmbedded(region, probe, edge, dynamoPath);
  log(`[bounded-fanout] backend: ${backend.description}`);
  return backend;
}

async function startEmbedded(
  region: string,
  probe: ProbeResult | undefined,
  oneEndpoint: StartBackendOptions['edge'],
  dynamoPath?: string,
): Promise<Backend> {
  const emulators = await startEmulators({ region, dynamoPath });
  let edge: Edge;
  try {
    edge = await Edge.start({
      upstreams: emulators.endpoints,
      listen: oneEndpoint ? oneEndpoint.listen : { host: '127.0.0.1', port: 0 },
    });
  } catch (error) {
    await emulators.stop();
    throw error;
  }
  const why = probe ? `no container runtime answered (${probe.tried.join('; ')})` : 'asked for';
  const url = edge.url;
  return {
    kind: BackendKinds.EMULATORS,
    endpoints: oneEndpoint
      ? { sqs: url, s3: url, dynamodb: url, events: url }
      : { ...emulators.endpoints, events: url },
    region,
    description: `embedded emulators, fauxqs (SQS, S3) and dynalite (DynamoDB), in process: ${why}`,
    edge,
    listening: emulators.listening,
    // The edge passes DynamoDB calls on unchanged, on this (the pipeline's) thread: the functions' own calls (the
    // job ledger's, about 160 a 20,000-task run) go straight to the front, on the DynamoDB thread.
    ...(oneEndpoint ? { functionsDynamodb: emulators.endpoints.dynamodb } : {}),
    stop: async () => {
      await edge.close();
      await emulators.stop();
    },
  };
}

async function startLocalStack(dockerHost: string, region: string, env: NodeJS.ProcessEnv): Promise<Backend> {
  // testcontainers reads DOCKER_HOST when imported; point it at the runtime the probe found.
  process.env.DOCKER_HOST ??= dockerHost;
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  const image = env.LOCALSTACK_IMAGE || DEFAULT_LOCALSTACK_IMAGE;
  const container = new LocalstackContainer(image).withEnvironment({
    SERVICES: 'sqs,s3,dynamodb,events',
    // Queue URLs on the request's own host and port (the mapped one), not localhost.localstack.cloud:4566.
    SQS_ENDPOINT_STRATEGY: 'path',
    DEFAULT_REGION: region,
    ...(env.LOCALSTACK_AUTH_TOKEN ? { LOCALSTACK_AUTH_TOKEN: env.LOCALSTACK_AUTH_TOKEN } : {}),
  });
  const started = await container.start();
  // An IP endpoint keeps the S3 client on path-style addressing (no `bucket.localhost` host names).
  const uri = `http://${started.getHost() === 'localhost' ? '127.0.0.1' : started.getHost()}:${started.getPort()}`;
  return {
    kind: BackendKinds.LOCALSTACK,
    endpoints: { sqs: uri, s3: uri, dynamodb: uri, events: uri },
    region,
    description: `LocalStack ${image} at ${uri} (container runtime at ${dockerHost})`,
    stop: async () => {
      await started.stop();
    },
  };
}

/**
 * The environment the handlers and any AWS SDK client need to reach a backend: the standard endpoint
 * variables, a region and dummy credentials (emulators and LocalStack accept any).
 */
export function backendEnvironment(
  backend: Pick<BackendInfo, 'endpoints' | 'region'>,
  lambdaEndpoint?: string,
): Record<string, string> {
  return {
    AWS_REGION: backend.region,
    AWS_DEFAULT_REGION: backend.region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: backend.endpoints.sqs,
    AWS_ENDPOINT_URL_S3: backend.endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: backend.endpoints.dynamodb,
    ...(backend.endpoints.events ? { AWS_ENDPOINT_URL_EVENTBRIDGE: backend.endpoints.events } : {}),
    // Secret references: the local endpoint's secret store (local/secret-store.ts), or LocalStack's services.
    ...(backend.endpoints.events
      ? {
          AWS_ENDPOINT_URL_SECRETS_MANAGER: backend.endpoints.events,
          AWS_ENDPOINT_URL_SSM: backend.endpoints.events,
        }
      : {}),
    ...(lambdaEndpoint ? { AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint } : {}),
  };
}
