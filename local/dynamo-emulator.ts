// dynalite (DynamoDB) and the DynamoDB front over it (local/dynamo-front.ts), on free loopback ports of the
// calling thread. The embedded emulators run it on a thread of its own (local/dynamo-on-thread.ts).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { startDynamoFront } from './dynamo-front.js';

/** The front's undo log, in dynalite's LevelDB directory (LevelDB leaves a file of a name not its own alone). */
export const UNDO_LOG_FILE = 'transactions.ndjson';

export interface DynamoEmulatorOptions {
  /** dynalite's LevelDB store on disk (`run --state DIR`); in memory without it. */
  readonly dynamoPath?: string;
}

export interface DynamoEmulator {
  /** The front's endpoint: DynamoDB as the SDK sees it. */
  readonly endpoint: string;
  /** dynalite's own endpoint, behind the front. */
  readonly dynalite: string;
  stop(): Promise<void>;
}

export async function startDynamoEmulator({
  dynamoPath,
}: DynamoEmulatorOptions = {}): Promise<DynamoEmulator> {
  // Tables become ACTIVE at once: the front answers CreateTable once dynalite's timer has flipped it (local/dynamo-front.ts).
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dynamoPath ? { path: dynamoPath } : {}),
  }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // On disk, the front keeps its transactions' undo log beside LevelDB's files (local/dynamo-undo-log.ts).
  const undoLog = dynamoPath ? { undoLog: join(dynamoPath, UNDO_LOG_FILE) } : {};
  const front = await startDynamoFront({ target, dynalite: server, ...undoLog }).catch(
    async (error: unknown) => {
      await closeDynalite(server);
      throw error;
    },
  );
  let stopped: Promise<void> | undefined;
  return {
    endpoint: front.endpoint,
    dynalite: target,
    stop() {
      stopped ??= front.close().then(() => closeDynalite(server));
      return stopped;
    },
  };
}

function closeDynalite(dynamo: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    dynamo.closeAllConnections?.();
    dynamo.close(() => resolve());
  });
}
