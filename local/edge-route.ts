// Which service a request to the one local endpoint is for, read from the request itself as LocalStack's edge
// port does: the JSON protocols name their operation in `X-Amz-Target`; every signed request names its service
// in the SigV4 credential scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`, in the Authorization
// header or, presigned, the X-Amz-Credential query parameter); the Lambda REST API has its own paths; what is
// left is S3, whose paths are bucket names and keys.
import type { IncomingHttpHeaders } from 'node:http';
import { ACCOUNT_SETTINGS_ROUTE } from './account-settings.js';
import { LAMBDA_CONTROL_ROUTES } from './lambda-control.js';

export const Services = {
  SQS: 'sqs',
  S3: 's3',
  DYNAMODB: 'dynamodb',
  LAMBDA: 'lambda',
  EVENTS: 'events',
} as const;
export type Service = (typeof Services)[keyof typeof Services];

/** The one JSON-protocol operation family per service (X-Amz-Target: PREFIX.Operation). */
const TARGET_PREFIXES: readonly (readonly [string, Service])[] = [
  ['AmazonSQS.', Services.SQS],
  ['DynamoDB_20120810.', Services.DYNAMODB],
  ['AWSEvents.', Services.EVENTS],
];

/** SigV4 signing names of the services served here. */
const SIGNING_NAMES: Readonly<Record<string, Service>> = {
  sqs: Services.SQS,
  s3: Services.S3,
  dynamodb: Services.DYNAMODB,
  lambda: Services.LAMBDA,
  events: Services.EVENTS,
};

/** Paths the local Invoke server answers (local/invoke-server.ts): Invoke, GetAccountSettings, the control plane. */
const LAMBDA_PATHS = [/^\/2015-03-31\/functions\//, ACCOUNT_SETTINGS_ROUTE, ...LAMBDA_CONTROL_ROUTES];

export interface RoutedRequest {
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
}

export function serviceOf({ url = '/', headers }: RoutedRequest): Service {
  const target = headerValue(headers['x-amz-target']);
  if (target) {
    for (const [prefix, service] of TARGET_PREFIXES) if (target.startsWith(prefix)) return service;
  }
  const path = url.split('?')[0];
  const scope = signingName(headerValue(headers.authorization), url);
  if (scope && scope in SIGNING_NAMES) return SIGNING_NAMES[scope];
  if (LAMBDA_PATHS.some((route) => route.test(path))) return Services.LAMBDA;
  return Services.S3;
}

/** The SERVICE of a SigV4 credential scope, from the Authorization header or a presigned URL. */
function signingName(authorization: string | undefined, url: string): string | undefined {
  const fromHeader =
    authorization && /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization);
  if (fromHeader) return fromHeader[1];
  const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : undefined;
  const presigned = query?.get('X-Amz-Credential');
  return presigned ? /^[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request$/.exec(presigned)?.[1] : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
