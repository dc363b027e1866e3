// An SQS client for a user-given endpoint (LocalStack, an emulator, or AWS), and the error for an endpoint that
// cannot be reached, so that case is one clear line and exit code 2.
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BoundedFanoutError, ErrorCodes } from '../../lib/errors.js';

export class EndpointError extends BoundedFanoutError {
  readonly endpoint: string;
  constructor(endpoint: string, reason: string, options?: ErrorOptions) {
    super(`Cannot reach --endpoint ${endpoint}: ${reason}`, ErrorCodes.ENDPOINT_UNREACHABLE, options);
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

/** Something answered at the endpoint, but not as an AWS API would (a web page, another service). */
export class NotAwsEndpointError extends BoundedFanoutError {
  readonly endpoint: string;
  constructor(endpoint: string, answer: string, options?: ErrorOptions) {
    super(
      `--endpoint ${endpoint} answered ${answer}, which is not an AWS API (is it LocalStack or an AWS endpoint?)`,
      ErrorCodes.ENDPOINT_NOT_AWS,
      options,
    );
    this.name = 'NotAwsEndpointError';
    this.endpoint = endpoint;
  }
}

interface SdkError {
  readonly code?: string;
  readonly name?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $response?: { readonly statusCode?: number; readonly headers?: Record<string, string> };
}

/**
 * Wraps a connection failure as an EndpointError and an answer the SDK could not read as AWS's (its
 * deserialization errors, or an error it could not name) as a NotAwsEndpointError; anything else passes through.
 */
export function asEndpointError(endpoint: string, error: unknown): unknown {
  const e = (error ?? {}) as SdkError;
  if ((e.code && unreachableCodes.has(e.code)) || e.name === 'TimeoutError') {
    return new EndpointError(endpoint, e.message || String(e.code), { cause: error });
  }
  const status = e.$response?.statusCode ?? e.$metadata?.httpStatusCode;
  const unreadable =
    e.name === 'SyntaxError' ||
    /Deserialization error/.test(e.message ?? '') ||
    /^Unknown(Error)?$/.test(e.name ?? '');
  if (status !== undefined && unreadable) {
    const type = e.$response?.headers?.['content-type'];
    return new NotAwsEndpointError(endpoint, `HTTP ${status}${type ? ` (${type})` : ''}`, { cause: error });
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
