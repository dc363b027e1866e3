// The messages between a container thread (local/container-thread.ts) and its owner in the main thread
// (local/thread-container.ts): one request and one answer per invocation, plus the rare extras below.
import type { ThreadObservationsHandle } from './thread-observations.js';

export interface ContainerThreadData {
  /** The stack's handler to load, or a module URL whose `createHandler()` makes one (a test's handler). */
  readonly kind: 'worker' | 'orchestrator' | { readonly module: string };
  readonly functionName: string;
  readonly observations: ThreadObservationsHandle;
  /** Two Int32 slots the thread keeps current: its sockets open now and the most it held at once. */
  readonly sockets: SharedArrayBuffer;
  /** Sends to this queue are reported to the main thread (its task ledger), one message per send call. */
  readonly reportSendsTo?: string;
}

export type ThreadRequest =
  | { readonly type: 'init'; readonly id: number }
  | {
      readonly type: 'invoke';
      readonly id: number;
      readonly event: unknown;
      /** Epoch milliseconds (Date.now() is the same clock in every thread). */
      readonly deadline: number;
      readonly timeoutMs: number;
      readonly memoryMb: number;
      readonly region: string;
      readonly awsRequestId: string;
    };

/** Whatever the thread wrote to stdout (fd 1) or stderr (fd 2), in order. */
export interface LogChunk {
  readonly fd: 1 | 2;
  readonly text: string;
}

export interface ErrorData {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: unknown;
}

export type ThreadReply =
  | { readonly type: 'ready'; readonly id: number; readonly logs: LogChunk[] }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: boolean;
      readonly value?: unknown;
      readonly error?: ErrorData;
      readonly logs: LogChunk[];
    }
  | { readonly type: 'logs'; readonly logs: LogChunk[] };

/** A send to the work queue, as the task ledger reads it (local/task-ledger.ts). */
export interface SentMessage {
  readonly type: 'sent';
  readonly input: {
    readonly QueueUrl?: string;
    readonly MessageBody?: string;
    readonly Entries?: ReadonlyArray<{ readonly Id?: string; readonly MessageBody?: string }>;
  };
  readonly output: {
    readonly MessageId?: string;
    readonly Successful?: ReadonlyArray<{ readonly Id?: string; readonly MessageId?: string }>;
  };
}
