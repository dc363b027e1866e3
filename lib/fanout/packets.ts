import type { JobTask } from '../manifest/schema.js';
import { wireJson } from '../wire/wire-json.js';
import {
  type DeadLetterEnvelope,
  type DeadLetterTask,
  encodeMessage,
  type TaskEnvelope,
  type TaskMessage,
} from './messages.js';
import { halfId, halves, type Packet } from './send-isolated.js';

// The SQS messages the orchestrator and the worker send, as packets (lib/fanout/send-isolated.ts): a task
// message or a dead-letter message with the items it carries, each item serialized once to its wire JSON,
// which is both what its size is counted on and what the body is joined from.

/** An item with its wire JSON. */
export interface WireItem<T> {
  readonly value: T;
  readonly json: string;
}

export interface TaskPacket extends Packet<WireItem<JobTask>> {
  readonly envelope: TaskEnvelope;
}

export interface DeadLetterPacket extends Packet<WireItem<DeadLetterTask>> {
  readonly envelope: DeadLetterEnvelope;
}

export function wireItem<T>(value: T): WireItem<T> {
  return { value, json: wireJson(value) };
}

export function taskPacket(
  id: string,
  envelope: TaskEnvelope,
  items: readonly WireItem<JobTask>[],
): TaskPacket {
  const body = encodeMessage(
    envelope,
    items.map((i) => i.json),
  );
  return { entry: { Id: id, MessageBody: body }, items, bytes: Buffer.byteLength(body), envelope };
}

/** A whole task message (the worker's retry of failed tasks) as a packet. */
export function taskMessagePacket(id: string, message: TaskMessage): TaskPacket {
  const { tasks, ...envelope } = message;
  return taskPacket(id, envelope, tasks.map(wireItem));
}

/**
 * The halves of a refused task message. Each half's key derives from the whole's (`<key>/0`, `<key>/1`),
 * so a re-run that splits the same message sends the same keys, and the worker's idempotency holds.
 */
export function splitTaskPacket(packet: TaskPacket): TaskPacket[] {
  return halves(packet.items).map((items, part) =>
    taskPacket(
      halfId(packet.entry.Id, part),
      { ...packet.envelope, key: `${packet.envelope.key}/${part}` },
      items,
    ),
  );
}

export function deadLetterPacket(
  id: string,
  envelope: DeadLetterEnvelope,
  items: readonly WireItem<DeadLetterTask>[],
): DeadLetterPacket {
  const body = encodeMessage(
    envelope,
    items.map((i) => i.json),
  );
  return { entry: { Id: id, MessageBody: body }, items, bytes: Buffer.byteLength(body), envelope };
}

export function splitDeadLetterPacket(packet: DeadLetterPacket): DeadLetterPacket[] {
  return halves(packet.items).map((items, part) =>
    deadLetterPacket(halfId(packet.entry.Id, part), packet.envelope, items),
  );
}
