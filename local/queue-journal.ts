// The work queue's contents on disk for `run --state DIR` (fauxqs keeps its queues in memory only, so a killed
// run's queue is rebuilt from here). The task ledger (local/task-ledger.ts) tells the journal every message
// the functions sent to the work queue (its id and body) and every message the poller settled; what was sent
// and not settled when the process died is what the resume sends again, body for body: the same message and
// task idempotency keys, so a task whose record says it completed is not run again. The orchestrator's results
// are journaled too, its first invocation's and each continuation's as it ends: the resume takes the run's job
// and run ids and its read counts from them, and whether the manifest was read to its end.
// Each line is appended with one write(2): it survives a kill -9 of this process (not a power cut: no fsync).
import { appendFileSync, closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { AsyncInvocationRecord } from './async-invocation.js';
import { journalLines } from './journal-lines.js';

export const JOURNAL_FILE = 'queue.ndjson';

/** The schedule's invocation of the orchestrator, as local/orchestrator-outcome.ts's invokeFirst gives it. */
export interface FirstInvocation {
  readonly requestId: string;
  readonly result?: unknown;
  readonly error?: string;
}

type Line =
  | { readonly s: string; readonly b: string; readonly v?: number }
  | { readonly d: readonly string[] }
  | { readonly o: FirstInvocation }
  | { readonly f: string }
  | { readonly a: AcceptedEvent }
  | { readonly c: AsyncInvocationRecord };

/** An asynchronous event of the orchestrator (a continuation) as the Invoke endpoint accepted it. */
export interface AcceptedEvent {
  readonly requestId: string;
  readonly payload: unknown;
}

/** A message sent to the work queue and never settled: its SQS id then, and its body. */
export interface OpenMessage {
  readonly id: string;
  readonly body: string;
  /** When it could be received, epoch ms, for a message sent with a delay. */
  readonly visibleAt?: number;
}

/** What a killed run left: its orchestrator's results and the messages sent and never settled. */
export interface JournalState {
  readonly first?: FirstInvocation;
  /** The orchestrator's asynchronous invocations that ended (its continuations), in the order they did. */
  readonly continuations: readonly AsyncInvocationRecord[];
  /** The open messages, in the order they were sent. */
  readonly open: readonly OpenMessage[];
  /**
   * The request id of the schedule's invocation of the orchestrator, journaled as it started: with no `first`,
   * the process died inside it, and a resume runs it again under that id (the same run: functions/open-job.ts).
   */
  readonly started?: string;
  /** The idempotency keys of every task message ever sent (open or settled), each once. */
  readonly keys: ReadonlySet<string>;
  /**
   * The continuations accepted (run or held by a stop) whose invocation never ended, each request id once, in
   * the order accepted: a resume runs them again under the same request id.
   */
  readonly unended: readonly AcceptedEvent[];
}

export class QueueJournal {
  readonly #file: string;
  /** Whether the file was checked for a torn last line before this process's first append. */
  #ended = false;

  constructor(dir: string) {
    this.#file = join(dir, JOURNAL_FILE);
  }

  sent(messageId: string, body: string, visibleAt?: number): void {
    this.#append(
      visibleAt === undefined ? { s: messageId, b: body } : { s: messageId, b: body, v: visibleAt },
    );
  }

  settled(messageIds: readonly string[]): void {
    if (messageIds.length > 0) this.#append({ d: messageIds });
  }

  /** The schedule's invocation of the orchestrator starts, under this request id (before any of its sends). */
  started(requestId: string): void {
    this.#append({ f: requestId });
  }

  orchestrator(first: FirstInvocation): void {
    this.#append({ o: first });
  }

  /** An asynchronous event of the orchestrator accepted (a continuation), held or run: a resume may run it. */
  accepted(requestId: string, payload: unknown): void {
    this.#append({ a: { requestId, payload } });
  }

  /** An asynchronous invocation of the orchestrator that ended: a continuation read on where one stopped. */
  continuation(record: AsyncInvocationRecord): void {
    this.#append({ c: record });
  }

  /**
   * Replays the journal: the open messages and the orchestrator's result. A line torn by a kill inside its write
   * is not JSON, and is passed over; JSON that is no journal line (the directory was written by something else)
   * is refused, naming the line: a message passed over is a message lost.
   */
  read(): JournalState {
    const keys = new Set<string>();
    if (!existsSync(this.#file)) return { open: [], continuations: [], keys, unended: [] };
    const accepted = new Map<string, AcceptedEvent>();
    const open = new Map<string, OpenMessage>();
    const continuations: AsyncInvocationRecord[] = [];
    let first: FirstInvocation | undefined;
    let started: string | undefined;
    for (const { text, number } of journalLines(this.#file)) {
      const line = parseLine(text, () => `${this.#file}: line ${number}`);
      if (line === undefined) continue;
      if ('s' in line) {
        open.set(line.s, { id: line.s, body: line.b, ...(line.v ? { visibleAt: line.v } : {}) });
        const key = messageKeyOf(line.b);
        if (key !== undefined) keys.add(key);
      } else if ('d' in line) for (const id of line.d) open.delete(id);
      else if ('c' in line) continuations.push(line.c);
      else if ('f' in line) started = line.f;
      else if ('a' in line) accepted.set(line.a.requestId, line.a);
      else first = line.o;
    }
    const opened = { ...(first ? { first } : {}), ...(started ? { started } : {}) };
    for (const { requestId } of continuations) accepted.delete(requestId);
    return { ...opened, continuations, open: [...open.values()], keys, unended: [...accepted.values()] };
  }

  #append(line: Line): void {
    // A killed process may leave a torn last line (no newline): this process's first line would be glued to it
    // and lost with it (a resume's re-sent message, say, never to be sent by the next resume). It starts a line.
    const start = this.#ended || !tornEnd(this.#file) ? '' : '\n';
    this.#ended = true;
    appendFileSync(this.#file, `${start}${JSON.stringify(line)}\n`);
  }
}

/** Whether `file` exists and its last byte is not a newline. */
function tornEnd(file: string): boolean {
  if (!existsSync(file)) return false;
  const fd = openSync(file, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

/**
 * A task message's idempotency key (lib/fanout/messages.ts), undefined for a body that is none: the journal's
 * `keys`, and the resend guard's test of a copy's send (local/resend-guard.ts).
 */
export function messageKeyOf(body: string | undefined): string | undefined {
  if (body === undefined) return undefined;
  try {
    const key = (JSON.parse(body) as { key?: unknown } | null)?.key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

function parseLine(text: string, where: () => string): Line | undefined {
  if (text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // A line torn by a kill inside its write (the next process starts a line of its own after it).
    return undefined;
  }
  if (isLine(value)) return value;
  throw new Error(
    `${where()} is not a journal line ({ s, b } a message sent, { d } ids settled, { f } the orchestrator's start, { o } its result, { a } a continuation accepted, { c } its end): ${text.slice(0, 80)}`,
  );
}

function isLine(value: unknown): value is Line {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const line = value as Record<string, unknown>;
  if ('s' in line)
    return (
      typeof line.s === 'string' &&
      typeof line.b === 'string' &&
      ['undefined', 'number'].includes(typeof line.v)
    );
  if ('d' in line) return Array.isArray(line.d) && line.d.every((id) => typeof id === 'string');
  if ('f' in line) return typeof line.f === 'string';
  if ('a' in line) {
    const event = line.a as Record<string, unknown> | null;
    return typeof event === 'object' && event !== null && typeof event.requestId === 'string';
  }
  if ('c' in line) {
    const record = line.c as Record<string, unknown> | null;
    return typeof record === 'object' && record !== null && typeof record.functionName === 'string';
  }
  const first = line.o as Record<string, unknown> | null | undefined;
  return typeof first === 'object' && first !== null && typeof first.requestId === 'string';
}
