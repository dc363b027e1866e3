// The orchestrator's AWS side, as the ports runSegment calls: SendMessageBatch to the work queue and to
// the DLQ, synchronous Invoke of the worker, and the asynchronous Invoke of itself that continues a job.
import { setTimeout as sleep } from 'node:timers/promises';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { sendMessageBatch } from '../lib/aws/enqueue.js';
import { CONTINUATIONS_PREFIX, EnvVars } from '../lib/config.js';
import type { Continuation } from '../lib/fanout/continuation.js';
import type { TaskMessage } from '../lib/fanout/messages.js';
import type { SegmentPorts, SendEntry } from '../lib/fanout/segment.js';
import type { TaskOutcome } from '../lib/fanout/task-outcome.js';
import { invocationOptions, type RunHttpTaskOptions } from '../lib/http/run-http-task.js';
import { cutText } from '../lib/wire/cut-text.js';
import { LAMBDA_MAX_EVENT_PAYLOAD_BYTES } from '../lib/wire/sqs-limits.js';
import type { FunctionRuntime } from './runtime.js';
import { runOverHttp } from './task-runner.js';

/** Attempts of one synchronous Invoke of the worker (safe to repeat: the worker is idempotent per task). */
export const INVOKE_ATTEMPTS = 3;

export function segmentPorts(rt: FunctionRuntime): SegmentPorts {
  const { queueUrl, dlqUrl, workerFunction } = rt.wiring;
  // The container's options with the segment's cutoff signal, made once per signal (it is one per segment).
  const made = new WeakMap<AbortSignal, RunHttpTaskOptions>();
  const withSignal = (signal: AbortSignal) => {
    const options = made.get(signal) ?? invocationOptions(rt.taskOptions, { signal });
    made.set(signal, options);
    return options;
  };
  const notWired = (name: string, entries: readonly SendEntry[]) =>
    Promise.resolve(entries.map((e) => ({ id: e.Id, error: `${name} is not set` })));
  return {
    runInline: (task, cutoff) => runOverHttp(task, rt, cutoff ? withSignal(cutoff) : rt.taskOptions),
    sendTasks: (entries) =>
      queueUrl ? sendMessageBatch(rt.aws.sqs, queueUrl, entries) : notWired(EnvVars.QUEUE_URL, entries),
    sendDeadLetters: (entries) =>
      dlqUrl ? sendMessageBatch(rt.aws.sqs, dlqUrl, entries) : notWired(EnvVars.DLQ_URL, entries),
    invoke: (message, cutoff) => invokeWorker(rt, workerFunction, message, cutoff),
  };
}

async function invokeWorker(
  rt: FunctionRuntime,
  fn: string | undefined,
  message: TaskMessage,
  cutoff?: AbortSignal,
): Promise<TaskOutcome[]> {
  if (!fn) throw new Error(`${EnvVars.WORKER_FUNCTION} is not set`);
  let last: unknown = new Error('abandoned at the cutoff');
  // Abandoned at the segment's cutoff, not retried: a worker busy on a stalled host would hold the orchestrator
  // until Lambda kills it (the worker's timeout is longer than what is left of the orchestrator's).
  for (let attempt = 1; attempt <= INVOKE_ATTEMPTS && !cutoff?.aborted; attempt++) {
    if (attempt > 1) await sleep(Math.random() * 200 * 2 ** (attempt - 2));
    try {
      const command = new InvokeCommand({
        FunctionName: fn,
        InvocationType: 'RequestResponse',
        Payload: JSON.stringify(message),
      });
      const out = await rt.aws.lambda.send(command, cutoff ? { abortSignal: cutoff } : {});
      const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
      if (out.FunctionError) throw new Error(`worker ${out.FunctionError}: ${describeFunctionError(text)}`);
      const body = JSON.parse(text) as { results?: TaskOutcome[] };
      if (!Array.isArray(body.results)) throw new Error('the worker answered without results');
      return body.results;
    } catch (error) {
      last = error;
    }
  }
  throw last;
}

function describeFunctionError(text: string): string {
  try {
    const body = JSON.parse(text) as { errorType?: string; errorMessage?: string };
    return `${body.errorType ?? 'Error'}: ${body.errorMessage ?? text}`;
  } catch {
    return cutText(text, 500);
  }
}

/**
 * Hands the rest of the job to a new invocation of the orchestrator (InvocationType Event). An inline job
 * too large for an Event payload is first written to the bucket and continued from there.
 */
export async function continueJob(rt: FunctionRuntime, continuation: Continuation): Promise<Continuation> {
  const fn = rt.wiring.orchestratorFunction;
  if (!fn)
    throw new Error(
      `${EnvVars.ORCHESTRATOR_FUNCTION} is not set: the job cannot continue past this invocation`,
    );
  let next = continuation;
  if (Buffer.byteLength(JSON.stringify({ continuation: next })) > LAMBDA_MAX_EVENT_PAYLOAD_BYTES) {
    next = await stashInlineJob(rt, next);
  }
  await rt.aws.lambda.send(
    new InvokeCommand({
      FunctionName: fn,
      InvocationType: 'Event',
      Payload: JSON.stringify({ continuation: next }),
    }),
  );
  return next;
}

async function stashInlineJob(rt: FunctionRuntime, c: Continuation): Promise<Continuation> {
  const { bucket } = rt.wiring;
  if (c.source.kind !== 'inline' || !bucket) {
    throw new Error(
      `the continuation is over ${LAMBDA_MAX_EVENT_PAYLOAD_BYTES} bytes and ${EnvVars.BUCKET} is not set to hold the manifest`,
    );
  }
  const { tasks, ...header } = c.source.job;
  // Header members first, tasks last: the JSON manifest is read as a stream.
  const body = JSON.stringify({ ...header, jobId: c.jobId, runId: c.runId, tasks });
  const key = `${CONTINUATIONS_PREFIX}${c.jobId}/${c.runId}/manifest.json`;
  const out = await rt.aws.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
  );
  return {
    ...c,
    source: {
      kind: 's3',
      bucket,
      key,
      ...(out.ETag ? { etag: out.ETag } : {}),
      format: 'json',
      overrides: { jobId: c.jobId, runId: c.runId },
    },
  };
}
