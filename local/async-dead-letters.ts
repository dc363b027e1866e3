// Lambda's dead-letter queue for asynchronous invocations, locally: an Event invocation that failed its last
// retry is sent, as Lambda sends it, to the queue the stack gives its function (the orchestrator's
// `${prefix}-orchestrator-dlq`): the event itself as the body, and why in the message attributes RequestID,
// ErrorCode (the Invoke status, 200 for a function error) and ErrorMessage (its first 1 KB). A function the
// stack gives no DLQ (the worker: its queue has its own) loses the event, as it would in AWS.
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** An asynchronous invocation whose every attempt failed. */
export interface ExhaustedEvent {
  readonly functionName: string;
  readonly payload: unknown;
  readonly requestId: string;
  readonly error: unknown;
}

/** Sends an exhausted event to its function's DLQ; resolves to whether it had one. */
export type DeadLetterSink = (event: ExhaustedEvent) => Promise<boolean>;

/** Lambda keeps the first 1 KB of the error message in the attribute. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;

/** Function errors reach the DLQ with the status Invoke answered them with. */
const FUNCTION_ERROR_CODE = '200';

export function asyncDeadLetters(
  sqs: SQSClient,
  queueUrls: Readonly<Record<string, string>>,
): DeadLetterSink {
  return async ({ functionName, payload, requestId, error }) => {
    const queueUrl = queueUrls[functionName];
    if (!queueUrl) return false;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(payload),
        MessageAttributes: {
          RequestID: { DataType: 'String', StringValue: requestId },
          ErrorCode: { DataType: 'Number', StringValue: FUNCTION_ERROR_CODE },
          ErrorMessage: { DataType: 'String', StringValue: errorMessageOf(error) },
        },
      }),
    );
    return true;
  };
}

/** Sends through `sink` when given; a failed send is false (reported in the invocation's record), not thrown. */
export async function deadLetter(sink: DeadLetterSink | undefined, event: ExhaustedEvent): Promise<boolean> {
  if (!sink) return false;
  try {
    return await sink(event);
  } catch {
    return false;
  }
}

/** The error's message, cut to Lambda's 1 KB on a character boundary (never empty: SQS refuses that). */
export function errorMessageOf(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)) || 'Unhandled';
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= MAX_ERROR_MESSAGE_BYTES) return message;
  return new TextDecoder().decode(bytes.subarray(0, MAX_ERROR_MESSAGE_BYTES)).replace(/\uFFFD$/, '');
}
