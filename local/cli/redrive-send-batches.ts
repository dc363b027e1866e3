// How the receive-and-resend redrive groups one receive's dead letters into SendMessageBatch calls. A receive
// brings up to 10, and a dead letter may be as large as a message (lib/fanout/dead-letter-packer.ts packs up
// to SQS_MAX_MESSAGE_BYTES): SQS refuses a batch over its total size whole (BatchRequestTooLong, not an
// entry's fault, so every retry and every later redrive would be refused alike). Each group stays under
// SQS_MAX_BATCH_BYTES, counted as SQS counts a message's size (its body, and each attribute's name, type and
// value); one message larger than that alone goes alone, for SQS to judge.
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import { SQS_MAX_BATCH_BYTES, SQS_MAX_BATCH_ENTRIES } from '../../lib/wire/sqs-limits.js';

/** The messages in order, in groups of at most 10 and SQS_MAX_BATCH_BYTES (a larger message alone). */
export function sendBatches<T extends Message>(messages: readonly T[]): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
    if (group.length > 0 && (group.length >= SQS_MAX_BATCH_ENTRIES || bytes + size > SQS_MAX_BATCH_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(message);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
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
