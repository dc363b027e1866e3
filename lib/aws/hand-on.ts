import type { SQSClient } from '@aws-sdk/client-sqs';
import { deadLetterEnvelope, packDeadLetters } from '../fanout/dead-letter-packer.js';
import { type DeadLetterTask, deadLetterTask, type TaskMessage } from '../fanout/messages.js';
import { splitDeadLetterPacket, splitTaskPacket, taskMessagePacket } from '../fanout/packets.js';
import { sendIsolated } from '../fanout/send-isolated.js';
import { sendMessageBatch } from './enqueue.js';

// How the worker hands failed tasks on (functions/worker.ts): a retry message to the work queue, dead-letter
// messages to the DLQ, each through sendIsolated, so a message SQS refuses for its content is split until
// the task at fault stands alone and its neighbours still go on.
// - A task whose retry SQS refuses even alone is dead-lettered with SQS's error: it can never be re-sent.
// - A dead-letter record SQS refuses even alone is returned as undeliverable, for the worker to log by task
//   id: failing the record instead would have SQS redeliver the whole message and re-run its neighbours,
//   for a send that can never succeed.
// - Any other failure (throttling, an outage, after the send's own retries) is returned in `failures`: the
//   worker fails the record and SQS redelivers it; the deterministic keys make the re-sends idempotent.

export interface RetrySent {
  /** Tasks re-sent in retry messages. */
  readonly retried: number;
  /** Tasks whose retry SQS refused even alone, to dead-letter with its error. */
  readonly deadLetters: readonly DeadLetterTask[];
  readonly failures: readonly string[];
}

export async function sendRetry(
  sqs: SQSClient,
  queueUrl: string,
  retry: TaskMessage,
  delaySeconds: number,
): Promise<RetrySent> {
  const out = await sendIsolated(
    [taskMessagePacket('r0', retry)],
    (entries) => sendMessageBatch(sqs, queueUrl, entries, { delaySeconds }),
    splitTaskPacket,
  );
  const deadLetters: DeadLetterTask[] = [];
  const failures: string[] = [];
  for (const { packet, error, senderFault } of out.refused) {
    if (!senderFault) failures.push(`retry ${packet.envelope.key}: ${error}`);
    else {
      for (const { value } of packet.items) {
        deadLetters.push(deadLetterTask(value, retry.attempt - 1, `not retried: ${error}`));
      }
    }
  }
  const retried = out.sent.reduce((n, p) => n + p.items.length, 0);
  return { retried, deadLetters, failures };
}

export interface DeadLettersSent {
  readonly deadLettered: number;
  /** Records SQS refused even alone, each with its error. */
  readonly undeliverable: readonly { readonly record: DeadLetterTask; readonly error: string }[];
  readonly failures: readonly string[];
}

export async function sendDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  message: TaskMessage,
  records: readonly DeadLetterTask[],
): Promise<DeadLettersSent> {
  const out = await sendIsolated(
    packDeadLetters(deadLetterEnvelope(message.jobId, message.runId, 'worker'), records),
    (entries) => sendMessageBatch(sqs, dlqUrl, entries),
    splitDeadLetterPacket,
  );
  const undeliverable: { record: DeadLetterTask; error: string }[] = [];
  const failures: string[] = [];
  for (const { packet, error, senderFault } of out.refused) {
    if (senderFault) for (const { value } of packet.items) undeliverable.push({ record: value, error });
    else failures.push(`dead letter ${packet.entry.Id}: ${error}`);
  }
  const deadLettered = out.sent.reduce((n, p) => n + p.items.length, 0);
  return { deadLettered, undeliverable, failures };
}
