import { setTimeout as sleep } from 'node:timers/promises';
import type { InvokeServer } from './invoke-server.js';
import type { LocalFunctions } from './local-functions.js';
import type { EventSourcePoller } from './poller.js';
import { queueDepth } from './queue-depth.js';
import type { sqsClient } from './resources.js';
import type { RunLocalJobOptions } from './run-local-job-options.js';

export interface DrainArgs {
  options: RunLocalJobOptions;
  started: number;
  poller: EventSourcePoller;
  invokeServer: InvokeServer;
  functions: LocalFunctions;
  sqs: ReturnType<typeof sqsClient>;
  queueUrl: string;
}

/** Waits until no invocation runs or waits and the queue is empty, twice in a row. True when cut short. */
export async function drain({
  options,
  started,
  poller,
  invokeServer,
  functions,
  sqs,
  queueUrl,
}: DrainArgs): Promise<boolean> {
  const deadline = started + (options.timeoutMs ?? 600_000);
  let quiet = 0;
  while (quiet < 2) {
    if (options.signal?.aborted || Date.now() > deadline) return true;
    await sleep(quiet === 0 ? 50 : 100);
    const busy =
      invokeServer.pendingAsyncInvocations > 0 ||
      poller.inFlight > 0 ||
      functions.worker.inFlight > 0 ||
      functions.orchestrator.inFlight > 0;
    quiet = !busy && (await queueDepth(sqs, queueUrl)).total === 0 ? quiet + 1 : 0;
  }
  return false;
}
