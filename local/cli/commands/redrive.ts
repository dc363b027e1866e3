// `bounded-fanout redrive --endpoint URL`: moves dead-lettered messages back to the work queue. SQS's own
// message-move task where the endpoint has it; otherwise receive from the dead-letter queue, send to the work
// queue, and delete only what was sent (local/cli/redrive-resend.ts). Either way a redrive moves the dead
// letters there at its start, once each, and ends; those that arrive meanwhile wait for the next, and so do
// those it could not send (counted by reason, exit 1).
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { SendBatchOptions } from '../../../lib/aws/enqueue.js';
import { resourceNames, withDefaults } from '../../../lib/config.js';
import { AbortError } from '../../../lib/errors.js';
import { markRedriveSends } from '../../edge-redrive-sends.js';
import type { RedriveArgs } from '../args.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import { type NotMoved, resend } from '../redrive-resend.js';
import { asEndpointError, endpointSqsClient } from '../sqs-endpoint.js';
import { UsageError } from '../usage-error.js';

export const RedriveMethods = { MOVE_TASK: 'message-move-task', RESEND: 'receive-and-resend' } as const;
export type RedriveMethod = (typeof RedriveMethods)[keyof typeof RedriveMethods];

export interface RedriveResult {
  readonly method: RedriveMethod;
  readonly moved: number;
  /** Dead letters whose send failed for good: visible in the dead-letter queue again, for the next redrive. */
  readonly notMoved: number;
  /** Those, by the reason of their last failed send. */
  readonly failures: readonly NotMoved[];
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Stopped by Ctrl-C before its end (receive-and-resend): what it did not move stays in the DLQ, visible. */
  readonly interrupted: boolean;
  /** Moved, yet still in the DLQ: their delete failed (`deleteFailure`); a later redrive sends them again. */
  readonly notDeleted: number;
  readonly deleteFailure?: string;
}

export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Poll interval of the message-move task's status. */
  readonly pollMs?: number;
  /** Empty receives in a row after which the dead-letter queue counts as drained. */
  readonly emptyReceives?: number;
  /** The rounds and backoff of a failed send (receive-and-resend). */
  readonly send?: SendBatchOptions;
  /**
   * Ctrl-C. Receive-and-resend stops receiving and finishes the batch in hand (./redrive-resend.ts); SQS's
   * message-move task goes on in SQS whatever this process does, so the wait for it ends with an AbortError
   * that names its handle.
   */
  readonly signal?: AbortSignal;
}

/** Errors by which an endpoint says it has no message-move task (fauxqs: InvalidAction). */
const unsupported = new Set([
  'InvalidAction',
  'UnsupportedOperation',
  'UnknownOperationException',
  'InvalidParameterValue',
]);

export async function redrive({
  sqs,
  queueUrl,
  deadLetterQueueUrl,
  pollMs = 500,
  emptyReceives = 2,
  send,
  signal,
}: RedriveOptions): Promise<RedriveResult> {
  const [queueArn, deadLetterQueueArn] = await Promise.all([
    arnOf(sqs, queueUrl),
    arnOf(sqs, deadLetterQueueUrl),
  ]);
  // A Ctrl-C before the move began starts nothing: SQS's task, once started, would go on without us.
  if (signal?.aborted) throw new AbortError('Interrupted before the redrive started: nothing moved');
  try {
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: deadLetterQueueArn, DestinationArn: queueArn }),
    );
    const moved = await waitForMoveTask(sqs, deadLetterQueueArn, TaskHandle, { pollMs, signal });
    // SQS moves or fails the task as a whole (waitForMoveTask throws): nothing is left behind by count.
    return {
      method: RedriveMethods.MOVE_TASK,
      moved,
      notMoved: 0,
      failures: [],
      notDeleted: 0,
      queueUrl,
      deadLetterQueueUrl,
      interrupted: false,
    };
  } catch (error) {
    if (!unsupported.has((error as { name?: string }).name ?? '')) throw error;
  }
  const out = await resend(sqs, queueUrl, deadLetterQueueUrl, {
    emptyReceives,
    ...(send ? { send } : {}),
    ...(signal ? { signal } : {}),
  });
  return { method: RedriveMethods.RESEND, ...out, queueUrl, deadLetterQueueUrl };
}

async function arnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`The endpoint gave no QueueArn for ${queueUrl}`);
  return arn;
}

async function waitForMoveTask(
  sqs: SQSClient,
  sourceArn: string,
  handle: string | undefined,
  { pollMs, signal }: { pollMs: number; signal: AbortSignal | undefined },
): Promise<number> {
  for (;;) {
    if (signal?.aborted) {
      throw new AbortError(
        `Interrupted: SQS's message-move task ${handle} goes on in SQS (aws sqs cancel-message-move-task --task-handle ${handle} stops it)`,
      );
    }
    const { Results = [] } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }),
    );
    const task = Results.find((r) => r.TaskHandle === handle) ?? Results[0];
    if (task?.Status === 'COMPLETED') return task.ApproximateNumberOfMessagesMoved ?? 0;
    if (task?.Status === 'FAILED' || task?.Status === 'CANCELLED') {
      throw new Error(
        `The message-move task ended ${task.Status}: ${task.FailureReason ?? 'no reason given'}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

async function queueUrlOf(sqs: SQSClient, name: string, endpoint: string): Promise<string> {
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`no URL for ${name}`);
    return QueueUrl;
  } catch (error) {
    const errorName = (error as { name?: string }).name ?? '';
    if (errorName === 'QueueDoesNotExist' || errorName === 'AWS.SimpleQueueService.NonExistentQueue') {
      throw new UsageError(
        `No queue named ${name} at ${endpoint} (is the stack deployed there? see --prefix)`,
        {
          flag: '--prefix',
        },
      );
    }
    throw asEndpointError(endpoint, error);
  }
}

export async function runRedrive(args: RedriveArgs, io: CliIo): Promise<number> {
  const names = resourceNames(withDefaults(args.prefix ? { prefix: args.prefix } : {}));
  const sqs = endpointSqsClient({ endpoint: args.endpoint, region: args.region, env: io.env });
  // A run's endpoint journals what a redrive moves into its work queue, so a kill -9 of the run loses none of it.
  markRedriveSends(sqs);
  const interrupts = onInterrupt();
  try {
    const queueUrl = await queueUrlOf(sqs, names.queue, args.endpoint);
    const deadLetterQueueUrl = await queueUrlOf(sqs, names.deadLetterQueue, args.endpoint);
    const result = await redrive({ sqs, queueUrl, deadLetterQueueUrl, signal: interrupts.signal }).catch(
      (error) => {
        if (error instanceof AbortError) return error;
        throw asEndpointError(args.endpoint, error);
      },
    );
    if (result instanceof AbortError) {
      io.stderr.write(`bounded-fanout: ${result.message}\n`);
      return ExitCodes.INTERRUPTED;
    }
    if (args.format === 'json') io.stdout.write(`${JSON.stringify(result)}\n`);
    else io.stdout.write(summaryText(result, names));
    if (result.interrupted) return ExitCodes.INTERRUPTED;
    return result.notMoved > 0 || result.notDeleted > 0 ? ExitCodes.NOT_ALL_MOVED : ExitCodes.OK;
  } finally {
    interrupts.dispose();
    sqs.destroy();
  }
}

/**
 * Ctrl-C (or SIGTERM) stops the redrive after the batch in hand, so no message is left invisible or in both
 * queues by the stop, and it prints what it moved; a second one ends the process there and then.
 */
function onInterrupt() {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(ExitCodes.INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

const messages = (n: number) => `${n} message${n === 1 ? '' : 's'}`;

function summaryText(result: RedriveResult, names: { queue: string; deadLetterQueue: string }): string {
  const stopped = result.interrupted
    ? `Interrupted: the rest stay in ${names.deadLetterQueue}, visible, for the next redrive.\n`
    : '';
  const moved = `Moved ${messages(result.moved)} from ${names.deadLetterQueue} to ${names.queue} (${result.method}).\n${stopped}`;
  const why = result.failures.map((f) => `${f.reason} (${f.count})`).join('; ');
  const notMoved =
    result.notMoved === 0
      ? ''
      : `Not moved: ${messages(result.notMoved)}, visible again in ${names.deadLetterQueue} for the next redrive: ${why}\n`;
  const notDeleted =
    result.notDeleted === 0
      ? ''
      : `Moved but not deleted: ${messages(result.notDeleted)} still in ${names.deadLetterQueue} (${result.deleteFailure}); a later redrive sends them again, and each task is counted once.\n`;
  return `${moved}${notMoved}${notDeleted}`;
}
