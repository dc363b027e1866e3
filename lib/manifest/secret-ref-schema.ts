// The checks of a header value that is a secret reference (lib/http/secret-ref.ts): one source, named by a
// well-formed ARN, parameter name or variable name. Issues have paths relative to the header value, and the
// manifest never quotes what is inside a reference (lib/manifest/issues.ts previewAt): a token pasted into
// the wrong field must not reach a report.
import type { z } from 'zod';

/** Secrets Manager secret ARNs, in any partition (aws, aws-cn, aws-us-gov), with or without the random suffix. */
export const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;
/** Parameter Store names, hierarchical (`/partner/token`): the stack grants read by path prefix. */
export const SSM_NAME = /^\/[A-Za-z0-9_.\-/]{1,1010}$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

const SOURCES = ['secret', 'ssm', 'env'] as const;
const FIELDS: readonly string[] = [...SOURCES, 'jsonKey'];

export const NOT_A_HEADER_VALUE =
  'is not a string or a secret reference ({ "secret": ARN, "jsonKey"?: KEY }, { "ssm": NAME } or { "env": NAME })';

export const RefMessages = {
  UNKNOWN_FIELD: 'is not a field of a secret reference (secret, jsonKey, ssm, env)',
  TWO_SOURCES: 'names more than one of secret, ssm, env: a reference names one source',
  SECRET: 'is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)',
  JSON_KEY: 'is not a non-empty string of at most 256 characters',
  JSON_KEY_SOURCE: 'applies to "secret" references only',
  SSM: 'is not a Parameter Store name (/path/name: letters, digits, _ . - and /)',
  ENV: 'is not an environment variable name (letters, digits and _, not starting with a digit)',
} as const;

type Issue = { readonly path: (string | number)[]; readonly message: string };

/** The problems of `value` as a secret reference (an object); empty when it is one. */
export function secretRefIssues(value: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  for (const key of Object.keys(value)) {
    if (!FIELDS.includes(key)) issues.push({ path: [key], message: RefMessages.UNKNOWN_FIELD });
  }
  const sources = SOURCES.filter((s) => Object.hasOwn(value, s));
  if (sources.length === 0) return [...issues, { path: [], message: NOT_A_HEADER_VALUE }];
  if (sources.length > 1) issues.push({ path: [], message: RefMessages.TWO_SOURCES });
  const check = (field: string, pattern: RegExp, message: string) => {
    const v = value[field];
    if (Object.hasOwn(value, field) && !(typeof v === 'string' && pattern.test(v))) {
      issues.push({ path: [field], message });
    }
  };
  check('secret', SECRET_ARN, RefMessages.SECRET);
  check('ssm', SSM_NAME, RefMessages.SSM);
  check('env', ENV_NAME, RefMessages.ENV);
  if (Object.hasOwn(value, 'jsonKey')) {
    const key = value.jsonKey;
    if (!Object.hasOwn(value, 'secret'))
      issues.push({ path: ['jsonKey'], message: RefMessages.JSON_KEY_SOURCE });
    else if (typeof key !== 'string' || key === '' || key.length > 256) {
      issues.push({ path: ['jsonKey'], message: RefMessages.JSON_KEY });
    }
  }
  return issues;
}

/** Adds `value`'s problems as a secret reference to `ctx`. */
export function checkSecretRef(value: unknown, ctx: z.core.$RefinementCtx): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: NOT_A_HEADER_VALUE });
    return;
  }
  for (const issue of secretRefIssues(value as Record<string, unknown>))
    ctx.addIssue({ code: 'custom', ...issue });
}
