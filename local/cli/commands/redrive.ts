// `bounded-fanout redrive --endpoint URL`: moves dead-lettered messages back to the work queue. SQS's own
// message-move task where the endpoint has it; otherwise receive from the dead-letter queue, send to the work
// queue, and delete only what was sent, so a message is never lost (at worst, on a crash between send and
// delete, it is in both queues and the worker's idempotency runs its tasks once). Either way a redrive moves
// the dead letters there at its start, once each, and ends; those that arrive meanwhile wait for the next.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { resourceNames, withDefaults } from '../../../lib/config.js';
import { queueDepth } from '../../queue-depth.js';
import type { RedriveArgs } from '../args.js';
import { ExitCodes } from '../exit-code.js';
import type { CliIo } from '../io.js';
import { asEndpointError, endpointSqsClient } from '../sqs-endpoint.js';
import { UsageError } from '../usage-error.js';

export const RedriveMethods = { MOVE_TASK: 'message-move-task', RESEND: 'receive-and-resend' } as const;
export type RedriveMethod = (typeof RedriveMethods)[keyof typeof RedriveMethods];

export interface RedriveResult {
  readonly method: RedriveMethod;
  readonly moved: number;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Poll interval of the message-move task's status. */
  readonly pollMs?: number;
  /** Empty receives in a row after which the dead-letter queue counts as drained. */
  readonly emptyReceives?: number;
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
}: RedriveOptions): Promise<RedriveResult> {
  const [queueArn, deadLetterQueueArn] = await Promise.all([
    arnOf(sqs, queueUrl),
    arnOf(sqs, deadLetterQueueUrl),
  ]);
  try {
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: deadLetterQueueArn, DestinationArn: queueArn }),
    );
    const moved = await waitForMoveTask(sqs, deadLetterQueueArn, TaskHandle, pollMs);
    return { method: RedriveMethods.MOVE_TASK, moved, queueUrl, deadLetterQueueUrl };
  } catch (error) {
    if (!unsupported.has((error as { name?: string }).name ?? '')) throw error;
  }
  const moved = await resend(sqs, queueUrl, deadLetterQueueUrl, emptyReceives);
  return { method: RedriveMethods.RESEND, moved, queueUrl, deadLetterQueueUrl };
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
  pollMs: number,
): Promise<number> {
  for (;;) {
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

/**
 * The receive-and-resend drain, bounded as SQS's own message-move task is (ApproximateNumberOfMessagesToMove,
 * taken when the task starts): it moves at most the dead-letter queue's depth at its start, and never a
 * message sent to the dead-letter queue after its start (SentTimestamp), such as the new dead letter of a
 * task it moved that failed again at once. Those it holds invisible while it drains, so that the queue still
 * comes back empty, and makes visible again at the end, for the next redrive. A message is deleted from the
 * dead-letter queue only once its send to the work queue succeeded.
 */
async function resend(
  sqs: SQSClient,
  queueUrl: string,
  deadLetterQueueUrl: string,
  emptyReceives: number,
): Promise<number> {
  const drain: Drain = {
    startedAt: Date.now(),
    budget: (await queueDepth(sqs, deadLetterQueueUrl)).total,
    moved: 0,
    movedIds: new Set(),
    held: new Map(),
  };
  try {
    let empty = 0;
    while (empty < emptyReceives && drain.moved < drain.budget) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      empty = Messages.length === 0 ? empty + 1 : 0;
      if (Messages.length) await moveBatch(sqs, queueUrl, deadLetterQueueUrl, drain, Messages);
    }
  } finally {
    await release(sqs, deadLetterQueueUrl, [...drain.held.values()]);
  }
  return drain.moved;
}

interface Drain {
  /** When the redrive started, on this machine's clock. */
  readonly startedAt: number;
  /** The dead-letter queue's depth at the start: the most this redrive moves. */
  readonly budget: number;
  moved: number;
  /** The dead-letter queue's ids of the messages moved (sent, then deleted). */
  readonly movedIds: Set<string>;
  /** Messages received but not to move now, by id: their latest receipt handle, to make visible at the end. */
  readonly held: Map<string, string>;
}

/** Moves what the drain may of one receive: sends to the work queue, then deletes what was sent. */
async function moveBatch(
  sqs: SQSClient,
  queueUrl: string,
  deadLetterQueueUrl: string,
  drain: Drain,
  messages: readonly Message[],
): Promise<void> {
  const toMove: Message[] = [];
  const stale: Message[] = [];
  for (const m of messages) {
    const id = m.MessageId ?? '';
    // A second delivery of a message already moved: sent once already, so only its delete is left.
    if (drain.movedIds.has(id)) stale.push(m);
    else if (sentAfter(m, drain.startedAt) || drain.moved + toMove.length >= drain.budget) {
      drain.held.set(id, m.ReceiptHandle ?? '');
    } else {
      drain.held.delete(id);
      toMove.push(m);
    }
  }
  const sent = toMove.length ? await sendAll(sqs, queueUrl, toMove) : [];
  await deleteAll(sqs, deadLetterQueueUrl, [...stale, ...sent]);
  for (const m of sent) drain.movedIds.add(m.MessageId ?? '');
  drain.moved += sent.length;
}

/** Sent to the dead-letter queue after the redrive started (an endpoint that gives no SentTimestamp: no). */
function sentAfter(message: Message, startedAt: number): boolean {
  const sent = Number(message.Attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > startedAt;
}

/** Sends the messages to the work queue; returns those it accepted (the rest stay in the dead-letter queue). */
async function sendAll(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<Message[]> {
  const sent = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((m, i) => ({
        Id: String(i),
        MessageBody: m.Body ?? '',
        ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length
          ? { MessageAttributes: m.MessageAttributes }
          : {}),
      })),
    }),
  );
  const ok = new Set((sent.Successful ?? []).map((s) => Number(s.Id)));
  return messages.filter((_, i) => ok.has(i));
}

async function deleteAll(sqs: SQSClient, deadLetterQueueUrl: string, messages: readonly Message[]) {
  if (!messages.length) return;
  await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: deadLetterQueueUrl,
      Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
    }),
  );
}

/**
 * Makes the held messages visible again, for the next redrive. Best effort: one it fails to release comes
 * back by itself when its visibility timeout ends, and the moves are done by now.
 */
async function release(sqs: SQSClient, deadLetterQueueUrl: string, receiptHandles: readonly string[]) {
  for (let i = 0; i < receiptHandles.length; i += 10) {
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: deadLetterQueueUrl,
          Entries: receiptHandles
            .slice(i, i + 10)
            .map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      )
      .catch(() => undefined);
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
  try {
    const queueUrl = await queueUrlOf(sqs, names.queue, args.endpoint);
    const deadLetterQueueUrl = await queueUrlOf(sqs, names.deadLetterQueue, args.endpoint);
    const result = await redrive({ sqs, queueUrl, deadLetterQueueUrl }).catch((error) => {
      throw asEndpointError(args.endpoint, error);
    });
    if (args.format === 'json') io.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      io.stdout.write(
        `Moved ${result.moved} message${result.moved === 1 ? '' : 's'} from ${names.deadLetterQueue} to ${names.queue} (${result.method}).\n`,
      );
    }
    return ExitCodes.OK;
  } finally {
    sqs.destroy();
  }
}
