// The `secrets` group of the config on its own (a zod schema inside lib/budget-schema.ts's, so its problems
// are listed with every other): prefixes the stack turns into IAM resources, so never empty, never a
// wildcard, never the whole store.
import { z } from 'zod';

/**
 * Secret references in task headers (lib/http/secret-ref.ts): the stack grants the functions read on these
 * prefixes only (never `*`), the functions refuse any reference outside them, and a resolved value is
 * cached per container for `maxAgeSeconds`. Checked by lib/secrets-config.ts.
 */
export interface SecretsConfig {
  /** Secrets Manager names the functions may read (`secret:<prefix>*`). */
  readonly secretsManagerPrefix: string;
  /** Parameter Store names the functions may read (`parameter<prefix>*`), a path such as `/bounded-fanout/`. */
  readonly ssmPrefix: string;
  /** Seconds a resolved value is kept per container before it is read again (0: every task reads it). */
  readonly maxAgeSeconds: number;
}

const SECRET_NAME_PREFIX = /^[A-Za-z0-9/_+=.@-]+$/;
const SSM_PATH_PREFIX = /^\/[A-Za-z0-9_.\-/]+$/;

export const SecretsConfigMessages = {
  SECRETS_MANAGER_PREFIX:
    'is not a Secrets Manager name prefix (letters, digits and / _ + = . @ -, not empty: the stack grants read on secret:<prefix>*, never on every secret)',
  SSM_PREFIX:
    'is not a Parameter Store path prefix (/ followed by letters, digits and _ . - /, not "/" alone: the stack grants read on parameter<prefix>*, never on every parameter)',
} as const;

export const secretsConfigSchema = z.strictObject(
  {
    secretsManagerPrefix: z
      .string({ error: 'is not a string' })
      .regex(SECRET_NAME_PREFIX, { error: SecretsConfigMessages.SECRETS_MANAGER_PREFIX }),
    ssmPrefix: z
      .string({ error: 'is not a string' })
      .regex(SSM_PATH_PREFIX, { error: SecretsConfigMessages.SSM_PREFIX }),
    maxAgeSeconds: z
      .number({ error: 'is not an integer' })
      .int({ error: 'is not an integer' })
      .min(0, { error: 'is below 0' })
      .max(86_400, { error: 'is above 86400 (a day)' }),
  },
  { error: 'is not an object' },
);
