// Inside one container thread (local/thread-container.ts starts it): the function's handler module, its runtime
// (AWS clients, HTTP agents) and its module state, all this thread's own, as a Lambda container has its own
// process. It answers one invocation at a time over its MessagePort. What the local runtime observes of it
// crosses the boundary without a message per task: task requests in flight and their latency go to shared
// counters (local/thread-observations.ts), the sockets too, and the log lines ride on the invocation's answer.
import diagnostics from 'node:diagnostics_channel';
import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { FunctionRuntime } from '../functions/runtime.js';
import { invocationScope } from './invocation-scope.js';
import { createLambdaContext } from './lambda-context.js';
import type { LambdaHandler } from './local-function.js';
import { ThreadObservations } from './thread-observations.js';
import type { ContainerThreadData, LogChunk, ThreadReply, ThreadRequest } from './thread-protocol.js';

const data = workerData as ContainerThreadData;
const port = parentPort!;
const observations = new ThreadObservations(data.observations);
const sockets = new Int32Array(data.sockets);
const SOCKETS_EVERY_MS = 100;
const SENDS = new Set(['SendMessageCommand', 'SendMessageBatchCommand']);
let logs: LogChunk[] = [];
let runtime: FunctionRuntime | undefined;
let handler: LambdaHandler | undefined;

captureLogs();
quietWarnings();
observeRequests();
port.on('message', (request: ThreadRequest) => {
  void answer(request).then((reply) => post({ ...reply, logs: takeLogs() } as ThreadReply));
});

// The answer before its log lines are added (Omit distributed over the union).
type Answer = ThreadReply extends infer R ? (R extends ThreadReply ? Omit<R, 'logs'> : never) : never;

async function answer(request: ThreadRequest): Promise<Answer> {
  try {
    if (request.type === 'init') {
      await init();
      return { type: 'ready', id: request.id };
    }
    return { type: 'result', id: request.id, ok: true, value: await invoke(request) };
  } catch (error) {
    return { type: 'result', id: request.id, ok: false, error: errorData(error) };
  } finally {
    writeSockets();
  }
}

async function init(): Promise<void> {
  if (typeof data.kind === 'object') {
    const mod = (await import(data.kind.module)) as { createHandler(): LambdaHandler };
    handler = mod.createHandler();
    return;
  }
  const { createRuntime } = await import('../functions/runtime.js');
  const rt = createRuntime(process.env);
  runtime = rt;
  if (data.reportSendsTo !== undefined) reportSends(rt, data.reportSendsTo);
  // This thread's own module instance: no other container shares its module-level state.
  if (data.kind === 'worker') {
    const { createWorkerHandler } = await import('../functions/worker.js');
    handler = createWorkerHandler(() => rt) as LambdaHandler;
  } else {
    const { createOrchestratorHandler } = await import('../functions/orchestrator.js');
    handler = createOrchestratorHandler(() => rt) as LambdaHandler;
  }
  setInterval(writeSockets, SOCKETS_EVERY_MS).unref();
}

async function invoke(request: Extract<ThreadRequest, { type: 'invoke' }>): Promise<unknown> {
  const context: Context = createLambdaContext({
    functionName: data.functionName,
    timeoutMs: request.timeoutMs,
    memoryMb: request.memoryMb,
    region: request.region,
    awsRequestId: request.awsRequestId,
  });
  const { deadline } = request;
  context.getRemainingTimeInMillis = () =>
    observations.hurried(data.functionName) ? 0 : Math.max(0, deadline - Date.now());
  return invocationScope.run({ functionName: data.functionName }, async () =>
    handler!(request.event, context),
  );
}

// The local runtime's task ledger sees what the function sends to the work queue (as its middleware does on
// an in-process container's client): one message per send call, before the invocation's answer.
function reportSends(rt: FunctionRuntime, queueUrl: string): void {
  rt.aws.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { QueueUrl?: string; MessageBody?: string; Entries?: unknown };
      if (SENDS.has(context.commandName ?? '') && input.QueueUrl === queueUrl) {
        const { MessageId, Successful } = result.output as { MessageId?: string; Successful?: unknown };
        port.postMessage({
          type: 'sent',
          input: { QueueUrl: input.QueueUrl, MessageBody: input.MessageBody, Entries: input.Entries },
          output: { MessageId, Successful },
        });
      }
      return result;
    },
    { step: 'initialize', name: 'boundedFanoutThreadSends' },
  );
}

function writeSockets(): void {
  const budget = runtime?.http.budget;
  if (!budget) return;
  Atomics.store(sockets, 0, budget.open);
  Atomics.store(sockets, 1, budget.peak);
}

// Everything written to stdout and stderr is kept and handed to the main thread with the next answer, which
// writes it there (where local/function-logs.ts takes the functions' lines): one message per invocation.
function captureLogs(): void {
  const streams = [process.stdout, process.stderr] as const;
  streams.forEach((stream, i) => {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      logs.push({ fd: i === 0 ? 1 : 2, text });
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (callback) queueMicrotask(callback);
      return true;
    }) as typeof stream.write;
  });
  // Lines written between invocations (a straggling promise) are not kept back for long.
  setInterval(() => {
    if (logs.length > 0) post({ type: 'logs', logs: takeLogs() });
  }, 250).unref();
}

// Each thread loads its own AWS SDK, which warns once per load about Node versions: the main thread has said
// it already. Other warnings are written as Node writes them, with the rest of the thread's output.
function quietWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name !== 'NodeVersionSupportWarning') process.stderr.write(`${warning.stack ?? warning}\n`);
  });
}

function takeLogs(): LogChunk[] {
  const taken = logs;
  logs = [];
  return taken;
}

function observeRequests(): void {
  const requests = new WeakMap<object, { sentAt: number; ended: boolean }>();
  const name = data.functionName;
  diagnostics.subscribe('undici:request:create', (message) => {
    if (invocationScope.getStore() === undefined) return;
    requests.set((message as { request: object }).request, { sentAt: 0, ended: false });
    observations.requestStarted(name);
  });
  diagnostics.subscribe('undici:client:sendHeaders', (message) => {
    const tracked = requests.get((message as { request: object }).request);
    if (tracked) tracked.sentAt = performance.now();
  });
  const onEnd = (message: unknown) => {
    const tracked = requests.get((message as { request: object }).request);
    if (!tracked || tracked.ended) return;
    tracked.ended = true;
    observations.requestEnded(name, tracked.sentAt > 0 ? performance.now() - tracked.sentAt : undefined);
  };
  diagnostics.subscribe('undici:request:trailers', onEnd);
  diagnostics.subscribe('undici:request:error', onEnd);
}

function post(reply: ThreadReply): void {
  try {
    port.postMessage(reply);
  } catch (error) {
    // A result that cannot be cloned (a function in it, say) fails the invocation, as Lambda's JSON would.
    if (reply.type !== 'result') throw error;
    port.postMessage({ ...reply, ok: false, value: undefined, error: errorData(error) });
  }
}

function errorData(error: unknown) {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, stack: e.stack, code: (e as { code?: unknown }).code };
}
