// The DynamoDB emulator (dynalite and its front, local/dynamo-emulator.ts) on a worker thread of its own, as
// DynamoDB is a service elsewhere in AWS: the job ledger's and idempotency's calls then cost the pipeline's
// thread the SDK's work and its HTTP, not dynalite's parsing, LevelDB and the front's own hop to dynalite.
// The same servers on the same kind of loopback ports: nothing that calls them can tell the difference.
import { Worker } from 'node:worker_threads';
import type { DynamoEmulator, DynamoEmulatorOptions } from './dynamo-emulator.js';
import type { DynamoThreadReply } from './dynamo-thread.js';
import { bundled } from './thread-bundle.js';

const ENTRY = new URL('./dynamo-thread.ts', import.meta.url);

export async function startDynamoOnThread(options: DynamoEmulatorOptions = {}): Promise<DynamoEmulator> {
  const worker = new Worker(await bundled(ENTRY), { workerData: { ...options } });
  const ready = await firstReply(worker);
  if (ready.type !== 'ready') {
    await worker.terminate();
    throw new Error(`DynamoDB emulator thread: ${ready.type === 'failed' ? ready.message : ready.type}`);
  }
  // The thread keeps no process alive by itself: it serves while the caller's own sockets to it are open. An
  // error thrown there from now on is this process's, as it was with dynalite on the caller's thread.
  worker.unref();
  let stopped: Promise<void> | undefined;
  return {
    endpoint: ready.endpoint,
    dynalite: ready.dynalite,
    stop() {
      stopped ??= (async () => {
        worker.ref();
        worker.postMessage({ type: 'stop' });
        await firstReply(worker).catch(() => undefined);
        await worker.terminate();
      })();
      return stopped;
    },
  };
}

/** The thread's next reply; rejects if it exits or fails first. */
function firstReply(worker: Worker): Promise<DynamoThreadReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: DynamoThreadReply) => done(() => resolve(reply));
    const onError = (error: Error) => done(() => reject(error));
    const onExit = (code: number) =>
      done(() => reject(new Error(`DynamoDB emulator thread exited with code ${code}`)));
    const done = (settle: () => void) => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      settle();
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}
