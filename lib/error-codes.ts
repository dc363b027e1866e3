// Every `code` an error of bounded-fanout carries, in one list: callers branch on these strings (the CLI's exit
// code, the worker's retry decision, a test's expectation), so each is spelt once, here, and every error class
// takes its code from this object (test/lib/error-codes.test.ts finds any BF_ string written elsewhere).
// The list is plain data with no imports, so the primitives' entry (lib/index.ts) carries it at no cost.

export const ErrorCodes = {
  // The primitives (lib/*.ts).
  INVALID_ARGUMENT: 'BF_INVALID_ARGUMENT',
  QUEUE_CLOSED: 'BF_QUEUE_CLOSED',
  QUEUE_FULL: 'BF_QUEUE_FULL',
  TIMEOUT: 'BF_TIMEOUT',
  ABORTED: 'BF_ABORTED',
  // The config and its budget (lib/budget/), a manifest (lib/manifest/), a queue message (functions/worker.ts).
  INVALID_BUDGET: 'BF_INVALID_BUDGET',
  CONFIG_ENVIRONMENT: 'BF_CONFIG_ENVIRONMENT',
  INVALID_MANIFEST: 'BF_INVALID_MANIFEST',
  INVALID_MESSAGE: 'BF_INVALID_MESSAGE',
  // One HTTP attempt's outcome (lib/http/): the worker retries or dead-letters on these.
  DESTINATION_REFUSED: 'BF_DESTINATION_REFUSED',
  CONNECT_TIMEOUT: 'BF_CONNECT_TIMEOUT',
  HTTP_STATUS: 'BF_HTTP_STATUS',
  DEADLINE: 'BF_DEADLINE',
  RESPONSE_TOO_LARGE: 'BF_RESPONSE_TOO_LARGE',
  /** A network failure that carried no code of its own. */
  NETWORK: 'BF_NETWORK',
  /** A header's secret reference could not be read (missing, denied, unreachable, not a usable header value). */
  SECRET_UNAVAILABLE: 'BF_SECRET_UNAVAILABLE',
  /** A secret reference outside what this runtime may read (a prefix, or `env` in Lambda). */
  SECRET_REFUSED: 'BF_SECRET_REFUSED',
  /**
   * A queue message delivered maxReceiveCount times without settling (its worker crashed, timed out or was
   * throttled each time): on that last receive its tasks are dead-lettered unrun, counted (functions/last-receive.ts).
   */
  UNSETTLED_DELIVERIES: 'BF_UNSETTLED_DELIVERIES',
  // The local runtime and the CLI (local/).
  LAMBDA_THROTTLED: 'BF_LAMBDA_THROTTLED',
  LAMBDA_TIMED_OUT: 'BF_LAMBDA_TIMED_OUT',
  EVENT_BUS_REQUEST: 'BF_EVENT_BUS_REQUEST',
  EDGE_LISTEN: 'BF_EDGE_LISTEN',
  ENDPOINT_UNREACHABLE: 'BF_ENDPOINT_UNREACHABLE',
  ENDPOINT_NOT_AWS: 'BF_ENDPOINT_NOT_AWS',
  REPORT_FILE: 'BF_REPORT_FILE',
  SECRETS_FILE: 'BF_SECRETS_FILE',
  USAGE: 'BF_USAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
