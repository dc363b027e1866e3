// How the receive-and-resend redrive groups one receive's dead letters into SendMessageBatch calls. A receive
// brings up to 10, and a dead letter may be as large as a message (lib/fanout/dead-letter-packer.ts packs up
// to SQS_MAX_MESSAGE_BYTES): SQS refuses a batch over its total size whole (BatchRequestTooLong, not an
// entry's fault, so every retry and every later redrive would be refused alike). Each group stays under
// SQS_MAX_BATCH_BYTES, counted as SQS counts a message's size (its body, and each attribute's name, type and
// value); one message larger than that alone goes alone, for SQS to judge.
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import { sendGroups } from '../../lib/fanout/segment-ports.js';

/**
 * The messages in order, in groups of at most 10 and SQS_MAX_BATCH_BYTES (a larger message alone), grouped by
 * the orchestrator's own send batcher (lib/fanout/segment-ports.ts sendGroups).
 */
export function sendBatches<T extends Message>(messages: readonly T[]): T[][] {
  return sendGroups(messages, messageBytes);
}

/** A message's size as SQS counts it against a batch's total. */
export function messageBytes(message: Message): number {
  let size = Buffer.byteLength(message.Body ?? '', 'utf8');
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    size += Buffer.byteLength(name, 'utf8') + attributeValueBytes(value);
  }
  return size;
}

function attributeValueBytes(value: MessageAttributeValue): number {
  const type = Buffer.byteLength(value.DataType ?? '', 'utf8');
  const text = value.StringValue === undefined ? 0 : Buffer.byteLength(value.StringValue, 'utf8');
  const binary = value.BinaryValue === undefined ? 0 : value.BinaryValue.byteLength;
  return type + text + binary;
}
