// An SQS client for a user-given endpoint (LocalStack, an emulator, or AWS), and the error for an endpoint that
// cannot be reached, so that case is one clear line and exit code 2.
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BoundedFanoutError } from '../../lib/errors.js';

export class EndpointError extends BoundedFanoutError {
  readonly endpoint: string;
  constructor(endpoint: string, reason: string, options?: ErrorOptions) {
    super(`Cannot reach --endpoint ${endpoint}: ${reason}`, 'BF_ENDPOINT_UNREACHABLE', options);
    this.name = 'EndpointError';
    this.endpoint = endpoint;
  }
}

const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
]);

/** Wraps a connection failure as an EndpointError; anything else passes through. */
export function asEndpointError(endpoint: string, error: unknown): unknown {
  const code = (error as { code?: string } | null)?.code;
  const name = (error as { name?: string } | null)?.name;
  if ((code && unreachableCodes.has(code)) || name === 'TimeoutError') {
    return new EndpointError(endpoint, (error as Error).message || String(code), { cause: error });
  }
  return error;
}

export function isLoopbackEndpoint(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host);
}

export interface EndpointClientOptions {
  readonly endpoint: string;
  readonly region?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Calls go to `endpoint` whatever host the queue URLs name (emulators answer with host names such as
 * sqs.us-east-1.localhost that the system resolver may not know). A loopback endpoint without credentials in
 * the environment gets placeholder ones: emulators and LocalStack accept any.
 */
export function endpointSqsClient({ endpoint, region, env = process.env }: EndpointClientOptions): SQSClient {
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  return new SQSClient({
    endpoint,
    region: region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    useQueueUrlAsEndpoint: false,
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 30_000 }),
    ...(!hasCredentials && isLoopbackEndpoint(endpoint)
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
}
