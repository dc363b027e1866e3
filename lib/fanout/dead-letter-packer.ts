import { DEAD_LETTER_ENVELOPE_BYTES, SQS_MAX_MESSAGE_BYTES } from '../wire/sqs-limits.js';
import { Batcher } from './batcher.js';
import { type DeadLetterEnvelope, type DeadLetterTask, MESSAGE_VERSION, MessageKinds } from './messages.js';
import { type DeadLetterPacket, deadLetterPacket, type WireItem, wireItem } from './packets.js';
import type { SegmentCopy } from './segment-copy.js';

// The one place dead-letter records (a task with its last error) are packed into DLQ messages, for the
// orchestrator's segment (a stream of records, packed as they come) and the worker's hand-on (the records
// of one message at once): up to 100 records a message, under SQS's message size, each record serialized
// once to its wire JSON, packets numbered d0, d1, ... in the order they are closed.

const RECORDS_PER_MESSAGE = 100;

export function deadLetterEnvelope(
  jobId: string,
  runId: string,
  source: DeadLetterEnvelope['source'],
  copy?: SegmentCopy,
): DeadLetterEnvelope {
  const envelope = { v: MESSAGE_VERSION, kind: MessageKinds.DEAD_LETTER, jobId, runId, source } as const;
  return copy ? { ...envelope, copy } : envelope;
}

export class DeadLetterPacker {
  readonly #envelope: DeadLetterEnvelope;
  readonly #batcher = new Batcher<WireItem<DeadLetterTask>>({
    maxItems: RECORDS_PER_MESSAGE,
    maxBytes: SQS_MAX_MESSAGE_BYTES,
    overheadBytes: DEAD_LETTER_ENVELOPE_BYTES,
    separatorBytes: 1,
  });
  #seq = 0;

  constructor(envelope: DeadLetterEnvelope) {
    this.#envelope = envelope;
  }

  /** Adds a record; returns the packet it closed, when it closed one (the record did not fit, or it filled it). */
  add(record: DeadLetterTask): DeadLetterPacket | undefined {
    const wired = wireItem(record);
    const group = this.#batcher.add(wired, Buffer.byteLength(wired.json));
    return group && this.#packet(group.items);
  }

  /** The last, partial packet, if any record waits. */
  flush(): DeadLetterPacket | undefined {
    const group = this.#batcher.flush();
    return group && this.#packet(group.items);
  }

  #packet(items: WireItem<DeadLetterTask>[]): DeadLetterPacket {
    return deadLetterPacket(`d${this.#seq++}`, this.#envelope, items);
  }
}

/** Every record of `records` packed into dead-letter messages, in order. */
export function packDeadLetters(
  envelope: DeadLetterEnvelope,
  records: readonly DeadLetterTask[],
): DeadLetterPacket[] {
  const packer = new DeadLetterPacker(envelope);
  const packets: DeadLetterPacket[] = [];
  for (const record of records) {
    const packet = packer.add(record);
    if (packet) packets.push(packet);
  }
  const last = packer.flush();
  if (last) packets.push(last);
  return packets;
}
