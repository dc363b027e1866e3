// `bounded-fanout redrive --endpoint URL`: moves dead-lettered messages back to the work queue. SQS's own
// message-move task where the endpoint has it; otherwise receive from the dead-letter queue, send to the work
// queue, and delete only what was sent, so a message is never lost (at worst, on a crash between send and
// delete, it is in both queues and the worker's idempotency runs its tasks once).
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { resourceNames, withDefaults } from '../../../lib/config.js';
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

async function resend(
  sqs: SQSClient,
  queueUrl: string,
  deadLetterQueueUrl: string,
  emptyReceives: number,
): Promise<number> {
  let moved = 0;
  let empty = 0;
  while (empty < emptyReceives) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({
          Id: String(i),
          MessageBody: m.Body ?? '',
          ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length
            ? { MessageAttributes: m.MessageAttributes }
            : {}),
        })),
      }),
    );
    // Only what the work queue accepted leaves the dead-letter queue; the rest reappears there and is tried again.
    const ok = new Set((sent.Successful ?? []).map((s) => Number(s.Id)));
    const toDelete = Messages.filter((_, i) => ok.has(i));
    if (toDelete.length) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: deadLetterQueueUrl,
          Entries: toDelete.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
    moved += toDelete.length;
  }
  return moved;
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
