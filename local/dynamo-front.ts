// A DynamoDB endpoint on 127.0.0.1 in front of dynalite, which has no TransactWriteItems (dynalite 4): every
// request goes on to dynalite unchanged, except `DynamoDB_20120810.TransactWriteItems`, answered here from
// dynalite's single-item calls (local/dynamo-transact.ts) under a lock per table. A transaction holds its
// tables' locks exclusively; every other item call through the front (reads and writes, the idempotency
// table's too) holds its table's lock shared, so those stay concurrent with each other and never see a
// transaction half applied. A failed transaction leaves every item as it was and answers exactly as DynamoDB:
// HTTP 400, `TransactionCanceledException` with one `CancellationReasons` entry per action, so the SDK throws
// the same error it throws in AWS. A dynalite call that gets no answer (a socket error) fails the transaction
// too, after what the others applied is put back: a 500 partly applied would be resent by the SDK and applied
// twice (a kept-alive socket reset as a request went out is retried once, local/dynalite-calls.ts).
// When dynalite runs in the front's own thread (the emulators: local/dynamo-emulator.ts), it is asked in process,
// with no socket between the two (local/dynalite-in-process.ts).
//
// Atomic across a kill -9 of this process only on a store kept on disk, given `undoLog` (local/dynamo-undo-log.ts:
// a transaction cut short is undone when the store is opened again).
// Not emulated (LocalStack and AWS have real transactions): atomicity across a crash of an in-memory store, and
// of a call that reached dynalite but whose answer was lost (its action stays applied);
// ClientRequestToken idempotency (a retried token applies again); TransactionConflict (transactions here wait
// their turn instead of failing); writes that bypass the front (straight to dynalite) are not locked;
// TransactGetItems; consumed capacity and item collection metrics.
import { randomBytes } from 'node:crypto';
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { DynaliteCalls, DynaliteRefusal } from './dynalite-calls.js';
import { askInProcess, type InProcessRequest } from './dynalite-in-process.js';
import { type Forwarded, forward, readBody } from './dynamo-forward.js';
import {
  error,
  parseActions,
  TransactRequestError,
  transactWrite,
  type WireAnswer,
} from './dynamo-transact.js';
import { openUndoLog } from './dynamo-undo-log.js';
import { NamedLocks } from './rw-lock.js';

export interface DynamoFront {
  /** `http://127.0.0.1:<port>`: give it to the SDK as the DynamoDB endpoint. */
  readonly endpoint: string;
  close(): Promise<void>;
}

export interface DynamoFrontOptions {
  /** dynalite's endpoint, `http://127.0.0.1:<port>`. */
  readonly target: string;
  /** dynalite's server, when it runs in this thread: asked in process, not over HTTP (local/dynalite-in-process.ts). */
  readonly dynalite?: Server;
  readonly port?: number;
  /** The undo log of a store kept on disk: what a killed process left half applied is undone first. */
  readonly undoLog?: string;
}

const TRANSACT_WRITE = 'DynamoDB_20120810.TransactWriteItems';
const SINGLE_TABLE = new Set(['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan']);
const MULTI_TABLE = new Set(['BatchGetItem', 'BatchWriteItem']);
const SCHEMA_CHANGES = new Set(['CreateTable', 'DeleteTable']);

export async function startDynamoFront({
  target,
  dynalite: inProcess,
  port = 0,
  undoLog,
}: DynamoFrontOptions): Promise<DynamoFront> {
  const dynalite = new DynaliteCalls(target, inProcess);
  const locks = new NamedLocks();
  const undo = undoLog ? await openUndoLog(undoLog, dynalite) : undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const targetUrl = new URL(target);
  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => route(req, body))
      .then((answer) => send(res, answer))
      .catch((err: unknown) => send(res, failure(err)));
  });

  async function route(req: IncomingMessage, body: Buffer): Promise<Forwarded> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.split('.')[1] ?? '';
    const parsed = parseJson(body);
    if (target === TRANSACT_WRITE) {
      if (parsed === undefined)
        return json(error('SerializationException', 'Start of structure or map found where not expected'));
      const actions = parseActions(parsed);
      const answer = await locks.with(
        actions.map((a) => a.tableName),
        true,
        () => transactWrite(dynalite, actions, undo),
      );
      return json(answer);
    }
    const tables = tablesOf(operation, parsed);
    const answer = await locks.with(tables, false, () =>
      inProcess
        ? askInProcess(inProcess, req as InProcessRequest, body)
        : forward(targetUrl, agent, req, body),
    );
    if (SCHEMA_CHANGES.has(operation)) await schemaChanged(dynalite, operation, parsed, answer.status);
    return answer;
  }

  await listenOn(server, port);
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  return {
    endpoint,
    close() {
      closed ??= closeServer(server).finally(() => {
        agent.destroy();
        dynalite.destroy();
        undo?.close();
      });
      return closed;
    },
  };
}

/**
 * After CreateTable or DeleteTable: the table's key schema is forgotten, and a created table is waited for. The
 * emulators create tables at once (createTableMs 0), yet dynalite answers before its timer flips the table to
 * ACTIVE: a write sent straight after was refused. The answer waits for ACTIVE, as meant.
 */
async function schemaChanged(dynalite: DynaliteCalls, operation: string, body: unknown, status: number) {
  const tableName = String((body as { TableName?: unknown })?.TableName);
  dynalite.forget(tableName);
  if (operation === 'CreateTable' && status === 200) await dynalite.untilActive(tableName);
}

/** The tables an item call touches (none for table-level calls, which need no lock). */
function tablesOf(operation: string, body: unknown): string[] {
  const b = body as { TableName?: unknown; RequestItems?: Record<string, unknown> } | undefined;
  if (SINGLE_TABLE.has(operation) && typeof b?.TableName === 'string') return [b.TableName];
  if (MULTI_TABLE.has(operation) && b?.RequestItems && typeof b.RequestItems === 'object') {
    return Object.keys(b.RequestItems);
  }
  return [];
}

/** An answer of ours with DynamoDB's headers (the CRC32 the SDK may check, a request id). */
function json({ status, body }: WireAnswer): Forwarded {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomBytes(26).toString('hex').toUpperCase(),
      'x-amz-crc32': String(crc32(body)),
    },
    body: Buffer.from(body),
  };
}

function failure(err: unknown): Forwarded {
  if (err instanceof TransactRequestError) return json(error('ValidationException', err.message));
  if (err instanceof DynaliteRefusal) return json({ status: err.answer.status, body: err.answer.raw });
  const message = err instanceof Error ? err.message : String(err);
  return json({
    status: 500,
    body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message }),
  });
}

function send(res: ServerResponse, { status, headers, body }: Forwarded): void {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    // Node sets the framing headers for the body it writes.
    if (value !== undefined && name !== 'transfer-encoding' && name !== 'connection') out[name] = value;
  }
  out['content-length'] = String(body.length);
  res.writeHead(status, out);
  res.end(body);
}

function parseJson(body: Buffer): unknown {
  try {
    return body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function listenOn(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
