import { BoundedQueue } from '../bounded-queue.js';
import { consume } from '../consume.js';
import { assertInteger } from '../errors.js';
import type { Batcher } from './batcher.js';
import { newSendBatcher } from './segment-ports.js';
import { type IsolatedSend, type Packet, type SendBatch, sendIsolated } from './send-isolated.js';

/*
How it works (asyncio's bounded queue with N consumer tasks): the producer (the segment reading the
manifest) adds packets; they are grouped into SendMessageBatch-sized batches (10 entries, 256 KiB), and
each full batch is put on a BoundedQueue of `maxQueued` batches that `senders` consumers drain, each
sending one batch at a time through sendIsolated. A full queue makes `add` wait: that is the back-pressure
on the read, so the producer is never more than `maxQueued` batches (plus the one it is filling) ahead of
the senders, and at most `senders` SendMessageBatch calls are in flight. `close()` sends the partial batch,
lets the senders drain the queue and resolves once every batch has been sent and handed to `onSent`.
An `onSent` that throws is a bug (the lanes turn every failure into a count or a dead letter): it goes to
`onBug`, and the sender carries on with the next batch.
*/

export interface SendLaneOptions<P> {
  /** Consumers, each with at most one SendMessageBatch (and its isolating re-sends) in flight. */
  readonly senders: number;
  /** Batches waiting for a sender before `add` waits. */
  readonly maxQueued: number;
  readonly send: SendBatch;
  /** The two halves of a packet refused for its content (see sendIsolated). */
  readonly split: (packet: P) => readonly P[];
  /** Told of every batch's outcome, in the sender that sent it. */
  readonly onSent: (out: IsolatedSend<P>) => unknown;
  readonly onBug: (error: unknown) => void;
}

export class SendLane<P extends Packet<unknown>> {
  readonly #o: SendLaneOptions<P>;
  readonly #batcher: Batcher<P> = newSendBatcher<P>();
  readonly #queue: BoundedQueue<readonly P[]>;
  readonly #drained: Promise<unknown>;
  #inFlight = 0;
  #peakInFlight = 0;

  constructor(options: SendLaneOptions<P>) {
    assertInteger('senders', options.senders);
    this.#queue = new BoundedQueue(assertInteger('maxQueued', options.maxQueued));
    this.#o = options;
    this.#drained = consume(this.#queue, options.senders, (batch) => this.#send(batch), {
      onError: (error) => options.onBug(error),
    });
  }

  /** Senders busy at once, at the most. */
  get peakInFlight(): number {
    return this.#peakInFlight;
  }

  /** Batches waiting for a sender, at the most. */
  get peakQueued(): number {
    return this.#queue.peakSize;
  }

  /** Adds a packet; when it closes a batch, waits for the batch to find a place in the queue. */
  async add(packet: P): Promise<void> {
    const batch = this.#batcher.add(packet, packet.bytes);
    if (batch) await this.#queue.put(batch.items);
  }

  /** Queues the part-filled batch now (waiting for room, as `add`); packets added after start a new one. */
  async flush(): Promise<void> {
    const last = this.#batcher.flush();
    if (last) await this.#queue.put(last.items);
  }

  /** Sends what is left and resolves once every batch is sent and told to `onSent`. Add nothing after. */
  async close(): Promise<void> {
    await this.flush();
    this.#queue.close();
    await this.#drained;
  }

  async #send(batch: readonly P[]): Promise<void> {
    this.#inFlight++;
    this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight);
    try {
      await this.#o.onSent(await sendIsolated(batch, this.#o.send, this.#o.split));
    } finally {
      this.#inFlight--;
    }
  }
}
