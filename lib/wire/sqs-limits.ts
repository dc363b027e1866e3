// Hard limits of the services the fan-out talks to (SQS, Lambda Invoke), in one place. They sit below the manifest
// (a task must fit a message) and the fan-out (which packs the messages), so both import them one way.

/** Largest SQS message body (and message attributes) SQS accepts in a standard queue: 256 KiB. */
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;
/** SendMessageBatch: at most 10 entries, and at most 256 KiB for all of them together. */
export const SQS_MAX_BATCH_ENTRIES = 10;
export const SQS_MAX_BATCH_BYTES = 256 * 1024;
/** Largest DelaySeconds SQS accepts. */
export const SQS_MAX_DELAY_SECONDS = 900;
/** Asynchronous (Event) Invoke payload limit we plan for; RequestResponse allows 6 MB. */
export const LAMBDA_MAX_EVENT_PAYLOAD_BYTES = 256 * 1024;
/** Room for a task message's envelope: job id and run id (128 each), key (1 KiB at most), attempt. */
export const TASK_ENVELOPE_BYTES = 2 * 1024;
/** Room for a dead-letter message's envelope. */
export const DEAD_LETTER_ENVELOPE_BYTES = 1024;
/** Longest error text kept with a dead-lettered task (at most 6 bytes a character once JSON-escaped). */
export const MAX_ERROR_CHARS = 1024;
/**
 * Largest serialized task: it must fit one SQS message with its envelope, and still fit once
 * dead-lettered with its last error, so nothing is ever too large to hand on.
 */
export const MAX_TASK_BYTES = SQS_MAX_MESSAGE_BYTES - 8 * 1024;
