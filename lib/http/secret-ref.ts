// A header value may name a secret instead of holding it: the manifest, the queue messages, the dead-letter
// queue and every report carry the reference, and only the request itself carries the value, resolved at
// run time through a SecretResolver (the port; lib/aws/secret-resolver.ts is the AWS side). lib/http stays
// free of AWS: it knows the shapes, the port and how a task's headers are resolved.
import { ErrorCodes } from '../error-codes.js';

/** Secrets Manager (an ARN; `jsonKey` picks one field of a JSON secret). */
export interface SecretsManagerRef {
  readonly secret: string;
  readonly jsonKey?: string;
}
/** Parameter Store (a SecureString's name), read with decryption. */
export interface ParameterRef {
  readonly ssm: string;
}
/** An environment variable of the local runtime (`bounded-fanout run`/`serve`); refused in Lambda. */
export interface EnvRef {
  readonly env: string;
}

export type SecretRef = SecretsManagerRef | ParameterRef | EnvRef;
export type HeaderValue = string | SecretRef;

/** The two secret codes, by their short names (the codes themselves live in lib/error-codes.ts). */
export const SecretErrorCodes = {
  UNAVAILABLE: ErrorCodes.SECRET_UNAVAILABLE,
  REFUSED: ErrorCodes.SECRET_REFUSED,
} as const;

/** Why a reference did not resolve. The message names the reference, never a value. */
export class SecretRefError extends Error {
  readonly code: string;
  constructor(ref: SecretRef, why: string, code: string = SecretErrorCodes.UNAVAILABLE) {
    super(`${describeRef(ref)} ${why}`);
    this.name = 'SecretRefError';
    this.code = code;
  }
}

/** The port: the value `ref` names, or a rejection (a SecretRefError, ideally) naming it. */
export interface SecretResolver {
  resolve(ref: SecretRef): Promise<string>;
}

export function isSecretRef(value: unknown): value is SecretRef {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.secret === 'string' || typeof v.ssm === 'string' || typeof v.env === 'string';
}

/** `secret arn:...:secret:partner (jsonKey "token")`, `ssm parameter /partner/token`, `env PARTNER_TOKEN`. */
export function describeRef(ref: SecretRef): string {
  if ('secret' in ref) {
    const key = ref.jsonKey === undefined ? '' : ` (jsonKey ${JSON.stringify(ref.jsonKey)})`;
    return `secret ${ref.secret}${key}`;
  }
  if ('ssm' in ref) return `ssm parameter ${ref.ssm}`;
  return `environment variable ${ref.env}`;
}
