import type { JobTask } from '../manifest/schema.js';
import { SQS_MAX_MESSAGE_BYTES, TASK_ENVELOPE_BYTES } from '../wire/sqs-limits.js';
import { Batcher, type Group } from './batcher.js';
import type { WireItem } from './packets.js';
import { handBack, type Reread } from './reread.js';
import type { SegmentLimits } from './segment-ports.js';

/**
 * A segment's two packers (queue tasks into messages, invoke tasks into chunks), with the manifest index of
 * the first task each holds: what a stop hands back instead of sending (lib/fanout/reread.ts).
 */
export class SegmentPackers {
  readonly #tasks: Batcher<WireItem<JobTask>>;
  readonly #invokes: Batcher<JobTask>;
  #queueFirst: number | undefined;
  #invokeFirst: number | undefined;

  constructor(limits: SegmentLimits) {
    const packing = {
      maxBytes: SQS_MAX_MESSAGE_BYTES,
      overheadBytes: TASK_ENVELOPE_BYTES,
      separatorBytes: 1,
    };
    this.#tasks = new Batcher({ ...packing, maxItems: limits.tasksPerMessage });
    this.#invokes = new Batcher({ ...packing, maxItems: limits.tasksPerInvoke });
  }

  /** Adds a queue task; the message it completed, if any. */
  addQueued(item: WireItem<JobTask>, bytes: number, index: number): Group<WireItem<JobTask>> | undefined {
    const pack = this.#tasks.add(item, bytes);
    this.#queueFirst = firstIndex(this.#tasks.size, this.#queueFirst, index);
    return pack;
  }

  /** Adds an invoke task; the chunk it completed, if any. */
  addInvoked(task: JobTask, bytes: number, index: number): Group<JobTask> | undefined {
    const chunk = this.#invokes.add(task, bytes);
    this.#invokeFirst = firstIndex(this.#invokes.size, this.#invokeFirst, index);
    return chunk;
  }

  /** The part-filled message and chunk, to send (the manifest read to its end, or broken). */
  flush() {
    this.#queueFirst = undefined;
    this.#invokeFirst = undefined;
    return { pack: this.#tasks.flush(), chunk: this.#invokes.flush() };
  }

  /** Reading stopped at `stoppedAt`: the part-filled message and chunk are dropped, their tasks handed back. */
  handBack(stoppedAt: number, started: Reread | undefined) {
    const left = handBack(stoppedAt, this.#queueFirst, this.#invokeFirst, started);
    const { pack, chunk } = this.flush();
    return { ...left, dropped: (pack?.items.length ?? 0) + (chunk?.items.length ?? 0) };
  }
}

/** The first index of a packer's tasks after one was added: the added one when it is alone (a new group). */
function firstIndex(size: number, first: number | undefined, added: number): number | undefined {
  if (size === 0) return undefined;
  return size === 1 ? added : first;
}
