// The undo log of the DynamoDB front's transactions on a store kept on disk (`run --state DIR`: dynalite's
// LevelDB). The front applies a TransactWriteItems as single-item calls (local/dynamo-transact.ts), each its own
// LevelDB write: a kill -9 between two of them left a transaction half applied, which no real DynamoDB does. A
// job ledger settle is one (its message's marker and the run's counts): the marker without the counts made the
// resume close the message with its tasks never counted (the run stayed `running`, 115 of 120 succeeded); the
// counts without the marker ran the message again and counted its tasks twice (125 of 120).
// So before its first call a transaction appends one line with every item it touches as it was (its prior
// image, none for an item not there), and once it is over its line is ended (the file emptied when no other
// transaction is under way, else an end line). A store opened with a line not ended has its items put back as
// they were before anything else is served: the transaction is undone whole, and the process that sent it died
// with it, before its answer. Each line is one write(2), not fsynced: it survives a kill -9 (as LevelDB's own
// log does), not a power cut. A line torn by a kill inside its write is passed over: nothing was applied yet.
import {
  appendFileSync,
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { AttributeMap, DynaliteCalls } from './dynalite-calls.js';

/** An item a transaction touches, as it was before: `item` undefined when there was none. */
export interface PriorImage {
  readonly tableName: string;
  readonly key: AttributeMap;
  readonly item: AttributeMap | undefined;
}

type Line =
  | { readonly b: number; readonly p: readonly { t: string; k: AttributeMap; i?: AttributeMap }[] }
  | { readonly e: number };

export class UndoLog {
  readonly #fd: number;
  readonly #open = new Set<number>();
  #next = 1;

  /** Opens `file` for appending: undoOpen it first (openUndoLog), so what a killed process left is undone. */
  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.#fd = openSync(file, 'a');
  }

  /** Keeps the prior images of a transaction about to be applied; its id for `end`. */
  begin(priors: readonly PriorImage[]): number {
    const id = this.#next++;
    const p = priors.map(({ tableName, key, item }) => ({
      t: tableName,
      k: key,
      ...(item ? { i: item } : {}),
    }));
    appendFileSync(this.#fd, `${JSON.stringify({ b: id, p } satisfies Line)}\n`);
    this.#open.add(id);
    return id;
  }

  /** The transaction is over (applied, or undone by the front): nothing to put back for it. */
  end(id: number): void {
    this.#open.delete(id);
    if (this.#open.size === 0) ftruncateSync(this.#fd, 0);
    else appendFileSync(this.#fd, `${JSON.stringify({ e: id } satisfies Line)}\n`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** The undo log in `file`, once what a killed process left in it is undone (undoOpen). */
export async function openUndoLog(file: string, dynalite: DynaliteCalls): Promise<UndoLog> {
  await undoOpen(file, dynalite);
  return new UndoLog(file);
}

/**
 * Puts back the items of every transaction `file` holds that was not ended (its process was killed inside it),
 * latest first, then empties the file; how many transactions it undid. Done again after a kill inside it, the
 * same images are written again.
 */
export async function undoOpen(file: string, dynalite: DynaliteCalls): Promise<number> {
  if (!existsSync(file)) return 0;
  const begun = new Map<number, PriorImage[]>();
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    const line = parse(text);
    if (line && 'b' in line)
      begun.set(
        line.b,
        line.p.map(({ t, k, i }) => ({ tableName: t, key: k, item: i })),
      );
    else if (line) begun.delete(line.e);
  }
  for (const priors of [...begun.values()].reverse()) {
    await Promise.all(priors.map((prior) => putBack(dynalite, prior)));
  }
  const fd = openSync(file, 'r+');
  try {
    ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
  return begun.size;
}

/** Writes `prior` back as it was: its item, or none. */
export async function putBack(dynalite: DynaliteCalls, { tableName, key, item }: PriorImage): Promise<void> {
  if (item) await dynalite.ok('PutItem', { TableName: tableName, Item: item });
  else await dynalite.ok('DeleteItem', { TableName: tableName, Key: key });
}

function parse(text: string): Line | undefined {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as Line;
  } catch {
    // Torn by a kill inside its write: its transaction had applied nothing yet.
    return undefined;
  }
}
