import { z } from 'zod';
import type { HeaderValue } from '../http/secret-ref.js';
import { checkSecretRef } from './secret-ref-schema.js';

// The job manifest's shape, validated with zod. Every message is worded to follow the offending value
// (`limits.inline: -1 is not a positive integer`); lib/manifest/issues.ts puts the path and value in front.

export const TaskModes = { INLINE: 'inline', QUEUE: 'queue', INVOKE: 'invoke' } as const;
export type TaskMode = (typeof TaskModes)[keyof typeof TaskModes];

export const HttpMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HttpMethods)[number];

/** Longest task id and URL accepted: ids end up in idempotency keys and logs. */
export const MAX_ID_LENGTH = 256;
export const MAX_URL_LENGTH = 8192;
export const MAX_HEADERS = 100;
/** Longest per-attempt timeout of one task: Lambda's own ceiling. */
export const MAX_TASK_TIMEOUT_MS = 900_000;

const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  z
    .number({ error: 'is not a positive integer' })
    .int({ error: 'is not a positive integer' })
    .min(1, { error: 'is not a positive integer' })
    .max(max, { error: `is above the maximum of ${max}` });

const nonNegativeInt = (max: number) =>
  z
    .number({ error: 'is not a non-negative integer' })
    .int({ error: 'is not a non-negative integer' })
    .min(0, { error: 'is not a non-negative integer' })
    .max(max, { error: `is above the maximum of ${max}` });

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: CR, LF and NUL would split or truncate a header
const HEADER_VALUE = /^[^\r\n\u0000]*$/;
// The rules undici's request() applies to headers (lib/core/request.js, processHeader), so that a header
// the manifest accepts is never refused at send time (then retried and dead-lettered task by task).
// Values: tab, visible ASCII and obs-text (0x80-0xff) only; undici writes them as Latin-1 bytes.
const HEADER_VALUE_CHARS = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers undici refuses from a caller (or, `connection`, takes over): the client sets them itself. */
export const CLIENT_SET_HEADERS: readonly string[] = [
  'connection',
  'content-length',
  'expect',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
];

/** Why undici would refuse this header value, or undefined. CR, LF and NUL have their own message. */
function headerValueFault(value: string): string | undefined {
  if (HEADER_VALUE_CHARS.test(value)) return undefined;
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    if (code === 0x0d || code === 0x0a || code === 0) return undefined;
    if (code < 0x20 || code === 0x7f) return `contains the control character ${hex}`;
    if (code > 0xff) {
      return `contains ${JSON.stringify(char)} (${hex}), outside Latin-1: a header value is sent as bytes 0-255 (percent-encode it)`;
    }
  }
  return undefined;
}

// A Host header is sent as the request's authority, and undici takes its name for TLS SNI without checking
// it: one that opens an IPv6 bracket and does not close it throws an assertion inside undici. So a literal
// one must be a host (a reg-name or a bracketed IPv6 address) with an optional port.
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{0,5})?$/;

/** Names undici refuses (one it sets itself, a second `host`: names are case-insensitive), and a bad host. */
function headerNameFaults(headers: Readonly<Record<string, unknown>>): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  let hosts = 0;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (CLIENT_SET_HEADERS.includes(lower))
      out.push({ path: [name], message: 'is set by the client; remove it' });
    else if (lower === 'host' && ++hosts > 1) {
      out.push({ path: [name], message: 'repeats the host header (header names are case-insensitive)' });
    } else if (lower === 'host' && typeof value === 'string' && !HOST_VALUE.test(value)) {
      out.push({ path: [name], message: 'is not a host with an optional port (such as "example.com:8443")' });
    }
  }
  return out;
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

// No ":": keys of a run's work are `<jobId>:<runId>:<rest>` (task records, message and segment keys), and with a
// ":" inside an id two runs could share them, one run's completed tasks then skipped by the other.
export const JobIdSchema = z
  .string({ error: 'is not a string' })
  .min(1, { error: 'is empty' })
  .max(128, { error: 'is longer than 128 characters' })
  .refine((id) => !id.includes(':'), {
    error:
      'contains ":", which separates the job id, run id and task id in keys (job "a:b" run "c" and job "a" run "b:c" would share them); use "-" or "." instead',
    abort: true,
  })
  .regex(JOB_ID, { error: 'is not a job id (letters, digits, ".", "_", "-")' });

const NOT_A_TASK_ID = 'is not a task id (a non-empty string or a non-negative integer)';
// JSON.parse has already rounded an integer past 2^53 - 1 (9007199254740993 reads as 9007199254740992): run,
// two ids written apart would be reported and recorded as one. Refused, saying the value shown is rounded.
const UNSAFE_TASK_ID = `is past ${Number.MAX_SAFE_INTEGER}, the largest integer a JSON number holds exactly (it is read rounded, as shown here, and could be taken for another id): write the id as a string`;

const TaskIdSchema = z
  .union(
    [
      z
        .string()
        .min(1, { error: 'is empty' })
        .max(MAX_ID_LENGTH, { error: `is longer than ${MAX_ID_LENGTH} characters` })
        .regex(NO_CONTROL, { error: 'contains control characters' }),
      // One refinement (`int` and `min` would both report -1e300), and the transform after the union: a branch
      // that transforms is dropped whole when it fails, its messages replaced by the union's.
      z.number().superRefine((n, ctx) => {
        if (!Number.isInteger(n) || n < 0) ctx.addIssue({ code: 'custom', message: NOT_A_TASK_ID });
        else if (n > Number.MAX_SAFE_INTEGER) ctx.addIssue({ code: 'custom', message: UNSAFE_TASK_ID });
      }),
    ],
    { error: NOT_A_TASK_ID },
  )
  .transform((id) => String(id));

const UrlSchema = z
  .string({ error: 'is not a string' })
  .max(MAX_URL_LENGTH, { error: `is longer than ${MAX_URL_LENGTH} characters` })
  .refine(isHttpUrl, { error: 'is not an http(s) URL', abort: true })
  // fetch-like clients drop userinfo without a word (the request goes out with no credentials), and the URL
  // reaches logs and reports: refused, and shown redacted (lib/manifest/issues.ts).
  .refine((value) => !hasUserinfo(value), {
    error:
      'carries credentials in the URL (user:password@): put credentials in a header or a secret reference',
  });

function hasUserinfo(value: string): boolean {
  const url = new URL(value);
  return url.username !== '' || url.password !== '';
}

// The common case, a plain http(s) prefix, costs one parse; anything else is parsed to read its scheme.
function isHttpUrl(value: string): boolean {
  if (/^https?:/i.test(value)) return URL.canParse(value);
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}

const MethodSchema = z
  .string({ error: 'is not a string' })
  .transform((m) => m.toUpperCase())
  .pipe(z.enum(HttpMethods, { error: `is not one of ${HttpMethods.join(', ')}` }));

// zod's record skips a `__proto__` key without a word (JSON.parse makes it an own key): it would be
// dropped from the request, so it is refused by name first.
const NoProtoKey = z.unknown().superRefine((value, ctx) => {
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
    ctx.addIssue({
      code: 'custom',
      path: ['__proto__'],
      message: 'is a header name the manifest cannot carry',
    });
  }
});

const HeaderStringSchema = z
  .string({ error: 'is not a string' })
  .regex(HEADER_VALUE, { error: 'contains CR, LF or NUL' })
  .superRefine((value, ctx) => {
    const why = headerValueFault(value);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });

// A string, or a reference to a secret resolved at run time (lib/manifest/secret-ref-schema.ts). Dispatched
// by type rather than a zod union, so each kind keeps its own exact messages.
// A refinement, not a transform: its issues do not stop the checks of the header names that follow.
const HeaderValueSchema = z.unknown().superRefine((value, ctx) => {
  if (typeof value !== 'string') return void checkSecretRef(value, ctx);
  const parsed = HeaderStringSchema.safeParse(value);
  for (const issue of parsed.error?.issues ?? []) ctx.addIssue({ code: 'custom', message: issue.message });
}) as unknown as z.ZodType<HeaderValue>;

const HeadersSchema = NoProtoKey.pipe(
  z
    .record(z.string().regex(HEADER_NAME, { error: 'is not a valid header name' }), HeaderValueSchema, {
      error: 'is not an object of header names to strings or secret references',
    })
    .refine((headers) => Object.keys(headers).length <= MAX_HEADERS, {
      error: `has more than ${MAX_HEADERS} headers`,
    })
    .superRefine((headers, ctx) => {
      for (const issue of headerNameFaults(headers)) ctx.addIssue({ code: 'custom', ...issue });
    }),
);

const StatusSchema = z
  .number({ error: 'is not an HTTP status' })
  .int({ error: 'is not an HTTP status' })
  .min(100, { error: 'is not an HTTP status' })
  .max(599, { error: 'is not an HTTP status' });

/** The fields a task may leave to `defaults`. */
const taskFields = {
  method: MethodSchema.optional(),
  headers: HeadersSchema.optional(),
  body: z.string({ error: 'is not a string' }).optional(),
  timeoutMs: positiveInt(MAX_TASK_TIMEOUT_MS).optional(),
  mode: z.enum(['inline', 'queue', 'invoke'], { error: 'is not one of inline, queue, invoke' }).optional(),
  retryNonIdempotent: z.boolean({ error: 'is not a boolean' }).optional(),
  expectStatus: z
    .union([StatusSchema, z.array(StatusSchema, { error: 'is not a status or a list of statuses' }).min(1)], {
      error: 'is not a status or a list of statuses',
    })
    .optional(),
};

export const TaskDefaultsSchema = z.strictObject(taskFields, { error: 'is not an object' });
export const RawTaskSchema = z.strictObject(
  { id: TaskIdSchema, url: UrlSchema, ...taskFields },
  { error: 'is not an object' },
);

/**
 * Per-job limits. Concurrency limits can only lower the deployed config's (the budget proven at deploy
 * time); packing sizes and the retry delay are the job's own.
 */
export const JobLimitsSchema = z.strictObject(
  {
    inline: positiveInt(10_000).optional(),
    enqueue: positiveInt(1_000).optional(),
    invoke: positiveInt(1_000).optional(),
    tasksPerMessage: positiveInt(1_000).optional(),
    tasksPerInvoke: positiveInt(1_000).optional(),
    /** Base delay of a message-level retry of failed tasks (doubles per attempt, at most 900 s). */
    retryDelaySeconds: nonNegativeInt(900).optional(),
  },
  { error: 'is not an object' },
);

export const JobHeaderSchema = z.strictObject(
  {
    jobId: JobIdSchema,
    /** One run of the job: idempotency keys include it, so a schedule can re-run the same jobId. */
    runId: JobIdSchema.optional(),
    defaults: TaskDefaultsSchema.optional(),
    limits: JobLimitsSchema.optional(),
    toleratedFailurePercent: z
      .number({ error: 'is not a percentage' })
      .min(0, { error: 'is not a percentage (0 to 100)' })
      .max(100, { error: 'is not a percentage (0 to 100)' })
      .optional(),
  },
  { error: 'is not an object' },
);

export type TaskDefaults = z.output<typeof TaskDefaultsSchema>;
export type JobLimits = z.output<typeof JobLimitsSchema>;
export type JobHeader = z.output<typeof JobHeaderSchema>;
export type RawTask = z.output<typeof RawTaskSchema>;

/**
 * A task after `defaults` filled it in: what runs, travels in messages and lands in the DLQ. A type alias,
 * not an interface, so it stays assignable to `Record<string, unknown>` (plain JSON).
 */
export type JobTask = {
  readonly id: string;
  readonly url: string;
  readonly method?: HttpMethod;
  /** A value is a string or a secret reference, resolved only when the task is sent. */
  readonly headers?: Readonly<Record<string, HeaderValue>>;
  readonly body?: string;
  readonly timeoutMs?: number;
  readonly mode: TaskMode;
  readonly retryNonIdempotent?: boolean;
  readonly expectStatus?: number | readonly number[];
};

/** Keys that make the first NDJSON line or an inline event a job header rather than a task. */
export const HEADER_KEYS: readonly string[] = Object.keys(JobHeaderSchema.shape);
