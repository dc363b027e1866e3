import { type EntryFailure, newSendBatcher, type SendEntry, settleFailures } from './segment-ports.js';

/*
One item can never take others with it. SQS refuses a batch entry as the sender's fault when its content
is at fault (a character it does not take, a body over the queue's MaximumMessageSize): resending it as it
is cannot succeed, and dead-lettering the whole message would fail its innocent neighbours too. So a
refused message that holds several items (tasks, dead-letter records) is split in two halves, each sent
again as its own message, until the item at fault stands alone; only that one is refused. A failure that
is not the sender's (throttling, an outage, after the send's own retries) is refused whole: its content is
not at fault, and splitting would only multiply calls.
*/

/** One message on its way: its entry, the items it carries, and its body's bytes. */
export interface Packet<T> {
  readonly entry: SendEntry;
  readonly items: readonly T[];
  readonly bytes: number;
}

export interface Refusal<P> {
  readonly packet: P;
  readonly error: string;
  /** SQS blamed the content: the packet holds one item (else it would have been split). */
  readonly senderFault: boolean;
}

export interface IsolatedSend<P> {
  readonly sent: P[];
  readonly refused: Refusal<P>[];
  /** SendMessageBatch calls made. */
  readonly calls: number;
}

/** Sends one SendMessageBatch (at most 10 entries, 256 KiB) and resolves to the entries that failed. */
export type SendBatch = (entries: readonly SendEntry[]) => Promise<readonly EntryFailure[]>;

/**
 * Sends `packets` in SendMessageBatch calls, splitting each packet refused for the sender's fault
 * (`split` builds the two halves, see halves()) until the item at fault stands alone. Never rejects:
 * a `send` that throws counts as every entry failed (not the sender's fault).
 */
export async function sendIsolated<P extends Packet<unknown>>(
  packets: readonly P[],
  send: SendBatch,
  split: (packet: P) => readonly P[],
): Promise<IsolatedSend<P>> {
  const sent: P[] = [];
  const refused: Refusal<P>[] = [];
  let calls = 0;
  let pending: readonly P[] = packets;
  while (pending.length > 0) {
    const next: P[] = [];
    for (const batch of inBatches(pending)) {
      calls++;
      const entries = batch.map((p) => p.entry);
      const failures = await settleFailures(() => send(entries), entries);
      const failed = new Map(failures.map((f) => [f.id, f]));
      for (const packet of batch) {
        const failure = failed.get(packet.entry.Id);
        if (failure === undefined) sent.push(packet);
        else if (failure.senderFault && packet.items.length > 1) next.push(...split(packet));
        else refused.push({ packet, error: failure.error, senderFault: failure.senderFault === true });
      }
    }
    pending = next;
  }
  return { sent, refused, calls };
}

/** The two halves of a refused packet's items, the first one the larger. */
export function halves<T>(items: readonly T[]): [T[], T[]] {
  const mid = Math.ceil(items.length / 2);
  return [items.slice(0, mid), items.slice(mid)];
}

/** The entry id of half `part` of a split entry: unique in any batch, since its parent's id was. */
export function halfId(id: string, part: number): string {
  return `${id}_${part}`;
}

function inBatches<P extends Packet<unknown>>(packets: readonly P[]): P[][] {
  const batcher = newSendBatcher<P>();
  const batches: P[][] = [];
  for (const packet of packets) {
    const batch = batcher.add(packet, packet.bytes);
    if (batch) batches.push(batch.items);
  }
  const last = batcher.flush();
  if (last) batches.push(last.items);
  return batches;
}
