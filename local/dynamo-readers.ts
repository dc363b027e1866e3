// The DynamoDB reads that reach the one local endpoint, by connection. The runtime's own functions and the CLI's
// own reads of its ledger go straight to the DynamoDB front (BackendInfo.functionsDynamodb), so a read here is an
// outside client's: `status --watch` in another terminal, reading the run's record every 2 s. A run that ends while
// such a client reads waits, a bounded time, until it has read again (local/cli/watcher-grace.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

/** The clients reading at the end of a run, taken by DynamoReaders.end. */
export interface ReadersAtEnd {
  /** Connections that had a read arrive in the window before the end. */
  readonly watching: number;
  /** Milliseconds until the latest of those reads is a window old: the longest wait for them (0 when none). */
  remainingMs(): number;
  /**
   * Resolves once every connection that was watching has had a read answered that arrived after the end, or
   * when `remainingMs` has passed, or on `signal`. A read on a new connection stands for a watching one that
   * closed (its client reconnected), never for one still open (a one-shot `status` from a third terminal is
   * not the watcher). Returns how many read again.
   */
  readAgain(signal?: AbortSignal): Promise<number>;
}

export class DynamoReaders {
  /**
   * Each open connection's reads: when its last one arrived (a read still being answered counts: its client reads
   * again after it), and when its last answered one did (performance.now()).
   */
  readonly #reads = new Map<Socket, { arrived: number; answered: number }>();
  readonly #onRead = new Set<() => void>();

  /** Called by the endpoint for each DynamoDB request. */
  note(req: IncomingMessage, res: ServerResponse): void {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    if (!READS.has(operation)) return;
    const arrivedAt = performance.now();
    const socket = req.socket;
    let reads = this.#reads.get(socket);
    if (!reads) {
      reads = { arrived: arrivedAt, answered: -Infinity };
      this.#reads.set(socket, reads);
      socket.once('close', () => this.#reads.delete(socket));
    }
    reads.arrived = arrivedAt;
    res.once('finish', () => {
      reads.answered = Math.max(reads.answered, arrivedAt);
      for (const listener of this.#onRead) listener();
    });
  }

  /** Now is the end: the connections that read in the `windowMs` before it are the ones to wait for. */
  end(windowMs: number): ReadersAtEnd {
    const endedAt = performance.now();
    const watching = new Set(
      [...this.#reads].filter(([, r]) => r.arrived >= endedAt - windowMs).map(([socket]) => socket),
    );
    const before = [...watching].map((socket) => this.#reads.get(socket)?.arrived ?? endedAt);
    const deadline = before.length === 0 ? endedAt : Math.max(...before) + windowMs;
    const readAfter = () => this.#readAfter(watching, endedAt);
    const remainingMs = () => Math.max(0, deadline - performance.now());
    return {
      watching: watching.size,
      remainingMs,
      readAgain: (signal) => this.#readAgain(watching.size, readAfter, remainingMs(), signal),
    };
  }

  /** The watching connections that read after the end; new ones that did, up to how many watching ones closed. */
  #readAfter(watching: ReadonlySet<Socket>, endedAt: number): number {
    let open = 0;
    let again = 0;
    let fresh = 0;
    for (const [socket, r] of this.#reads) {
      const read = r.answered >= endedAt;
      if (watching.has(socket)) {
        open++;
        if (read) again++;
      } else if (read) fresh++;
    }
    return again + Math.min(fresh, watching.size - open);
  }

  #readAgain(watching: number, readAfter: () => number, waitMs: number, signal?: AbortSignal) {
    if (readAfter() >= watching || waitMs === 0 || signal?.aborted) return Promise.resolve(readAfter());
    return new Promise<number>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#onRead.delete(onRead);
        signal?.removeEventListener('abort', finish);
        resolve(readAfter());
      };
      const onRead = () => {
        if (readAfter() >= watching) finish();
      };
      const timer = setTimeout(finish, waitMs);
      this.#onRead.add(onRead);
      signal?.addEventListener('abort', finish, { once: true });
    });
  }
}
