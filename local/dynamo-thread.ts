// The thread that runs the DynamoDB emulator (local/dynamo-on-thread.ts starts it): dynalite and its front,
// answering on loopback ports. It says where once ready, and stops when asked.
import { parentPort, workerData } from 'node:worker_threads';
import { type DynamoEmulatorOptions, startDynamoEmulator } from './dynamo-emulator.js';

export type DynamoThreadReply =
  | { readonly type: 'ready'; readonly endpoint: string; readonly dynalite: string }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'stopped' };

const port = parentPort;
if (!port) throw new Error('local/dynamo-thread.ts runs as a worker thread (local/dynamo-on-thread.ts)');
const reply = (message: DynamoThreadReply) => port.postMessage(message);

startDynamoEmulator(workerData as DynamoEmulatorOptions).then(
  (emulator) => {
    port.once('message', () => {
      void emulator.stop().then(() => {
        reply({ type: 'stopped' });
        port.close();
      });
    });
    reply({ type: 'ready', endpoint: emulator.endpoint, dynalite: emulator.dynalite });
  },
  (error: unknown) => {
    reply({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    port.close();
  },
);
