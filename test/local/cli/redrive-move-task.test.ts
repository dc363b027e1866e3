// `redrive` through SQS's message-move task. fauxqs 1.9.2 has no message-move task (it answers
// StartMessageMoveTask with InvalidAction: redrive.test.ts runs the fallback against it), and LocalStack
// needs Docker, which these machines lack. So the move task here is a FAKE, named so: an SDK middleware on
// the redrive's client answers StartMessageMoveTask and ListMessageMoveTasks as SQS documents them, and does
// the move itself on the real emulator's queues (receive, send, delete); every other call reaches fauxqs.
import { randomBytes } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type ListMessageMoveTasksResultEntry,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type StartMessageMoveTaskCommandInput,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedriveMethods, redrive } from '../../../local/cli/commands/redrive.js';

let server: Awaited<ReturnType<typeof startFauxqs>>;
const clients: SQSClient[] = [];

const client = () => {
  const c = new SQSClient({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.stop();
});

async function queues() {
  const sqs = client();
  const name = `move-${randomBytes(4).toString('hex')}`;
  const url = async (n: string) => (await sqs.send(new CreateQueueCommand({ QueueName: n }))).QueueUrl!;
  const [queueUrl, deadLetterQueueUrl] = [await url(name), await url(`${name}-dlq`)];
  const arn = async (u: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: u, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
  return {
    sqs,
    queueUrl,
    deadLetterQueueUrl,
    queueArn: await arn(queueUrl),
    dlqArn: await arn(deadLetterQueueUrl),
  };
}

async function fill(sqs: SQSClient, queueUrl: string, n: number) {
  for (let i = 0; i < n; i += 10) {
    const Entries = Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
      Id: String(j),
      MessageBody: `m${i + j}`,
    }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
  }
}

async function bodies(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }),
    );
    if (Messages.length === 0) return out.sort();
    out.push(...Messages.map((m) => m.Body!));
  }
}

/**
 * FAKE message-move task on `redriving`'s client: StartMessageMoveTask moves every message from the source
 * queue to the destination through `mover` (the real emulator), then ListMessageMoveTasks reports RUNNING
 * for `runningPolls` calls and then `end` (COMPLETED with the count moved, or FAILED with a reason).
 * Records every command the client sends.
 */
function fakeMoveTask(
  redriving: SQSClient,
  mover: SQSClient,
  urls: Record<string, string>,
  { runningPolls = 2, end = { Status: 'COMPLETED' } as Partial<ListMessageMoveTasksResultEntry> } = {},
) {
  const commands: string[] = [];
  const starts: StartMessageMoveTaskCommandInput[] = [];
  let moved = 0;
  let polls = 0;
  redriving.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(context.commandName!);
      if (context.commandName === 'StartMessageMoveTaskCommand') {
        const input = args.input as StartMessageMoveTaskCommandInput;
        starts.push(input);
        const from = urls[input.SourceArn!];
        const to = urls[input.DestinationArn!];
        for (;;) {
          const { Messages = [] } = await mover.send(
            new ReceiveMessageCommand({ QueueUrl: from, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }),
          );
          if (Messages.length === 0) break;
          const Entries = Messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body! }));
          await mover.send(new SendMessageBatchCommand({ QueueUrl: to, Entries }));
          await mover.send(
            new DeleteMessageBatchCommand({
              QueueUrl: from,
              Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
          moved += Messages.length;
        }
        return { output: { TaskHandle: 'task-1', $metadata: {} }, response: {} } as never;
      }
      if (context.commandName === 'ListMessageMoveTasksCommand') {
        const running = ++polls <= runningPolls;
        const entry = running
          ? { TaskHandle: 'task-1', Status: 'RUNNING' }
          : {
              TaskHandle: 'task-1',
              ...end,
              ...(end.Status === 'COMPLETED' ? { ApproximateNumberOfMessagesMoved: moved } : {}),
            };
        return { output: { Results: [entry], $metadata: {} }, response: {} } as never;
      }
      return next(args);
    },
    { step: 'initialize', name: 'fake-message-move-task' },
  );
  return { commands, starts, polls: () => polls };
}

/** Fresh queues with `deadLetters` dead letters, and a client on which the FAKE move task (below) moves them. */
async function movingQueues(deadLetters: number, options?: Parameters<typeof fakeMoveTask>[3]) {
  const q = await queues();
  await fill(q.sqs, q.deadLetterQueueUrl, deadLetters);
  const redriving = client();
  const urls = { [q.dlqArn]: q.deadLetterQueueUrl, [q.queueArn]: q.queueUrl };
  return { q, redriving, fake: fakeMoveTask(redriving, q.sqs, urls, options) };
}

describe('redrive through the message-move task', () => {
  it('starts one task from the DLQ to the work queue, polls it to COMPLETED and reports its count; no receive of its own', async () => {
    const { q, redriving, fake } = await movingQueues(23);
    const result = await redrive({
      sqs: redriving,
      queueUrl: q.queueUrl,
      deadLetterQueueUrl: q.deadLetterQueueUrl,
      pollMs: 1,
    });
    expect(result).toEqual({
      method: RedriveMethods.MOVE_TASK,
      moved: 23,
      notMoved: 0,
      failures: [],
      queueUrl: q.queueUrl,
      deadLetterQueueUrl: q.deadLetterQueueUrl,
      interrupted: false,
      // SQS's task deletes what it moves: nothing is left behind by a delete.
      notDeleted: 0,
    });
    expect(fake.starts).toEqual([{ SourceArn: q.dlqArn, DestinationArn: q.queueArn }]);
    expect(fake.polls()).toBe(3);
    expect(fake.commands.filter((c) => !c.startsWith('GetQueueAttributes'))).toEqual([
      'StartMessageMoveTaskCommand',
      'ListMessageMoveTasksCommand',
      'ListMessageMoveTasksCommand',
      'ListMessageMoveTasksCommand',
    ]);
    expect(await bodies(q.sqs, q.queueUrl)).toEqual(Array.from({ length: 23 }, (_, i) => `m${i}`).sort());
    expect(await bodies(q.sqs, q.deadLetterQueueUrl)).toEqual([]);
  });

  it('a task that ends FAILED is an error with its reason, not a fallback to receive-and-resend', async () => {
    const { q, redriving, fake } = await movingQueues(3, {
      runningPolls: 0,
      end: { Status: 'FAILED', FailureReason: 'AWS.SimpleQueueService.NonExistentQueue' },
    });
    await expect(
      redrive({ sqs: redriving, queueUrl: q.queueUrl, deadLetterQueueUrl: q.deadLetterQueueUrl, pollMs: 1 }),
    ).rejects.toThrow('The message-move task ended FAILED: AWS.SimpleQueueService.NonExistentQueue');
    expect(fake.commands).not.toContain('ReceiveMessageCommand');
  });

  it('Ctrl-C while the task runs ends the wait with an error naming the task, which goes on in SQS', async () => {
    const { q, redriving, fake } = await movingQueues(3, { runningPolls: Number.MAX_SAFE_INTEGER });
    const interrupt = new AbortController();
    const waiting = redrive({
      sqs: redriving,
      queueUrl: q.queueUrl,
      deadLetterQueueUrl: q.deadLetterQueueUrl,
      pollMs: 1,
      signal: interrupt.signal,
    });
    while (fake.polls() < 3) await new Promise((resolve) => setTimeout(resolve, 1));
    interrupt.abort();
    await expect(waiting).rejects.toThrow(
      "Interrupted: SQS's message-move task task-1 goes on in SQS (aws sqs cancel-message-move-task --task-handle task-1 stops it)",
    );
    expect(fake.commands).not.toContain('ReceiveMessageCommand');
  });

  it('Ctrl-C before the move began starts no task and moves nothing', async () => {
    const { q, redriving, fake } = await movingQueues(3);
    const interrupt = new AbortController();
    interrupt.abort();
    await expect(
      redrive({
        sqs: redriving,
        queueUrl: q.queueUrl,
        deadLetterQueueUrl: q.deadLetterQueueUrl,
        signal: interrupt.signal,
      }),
    ).rejects.toThrow('Interrupted before the redrive started: nothing moved');
    expect(fake.starts).toEqual([]);
    expect(await bodies(q.sqs, q.deadLetterQueueUrl)).toEqual(['m0', 'm1', 'm2']);
  });

  it('without a move task at the endpoint (fauxqs answers InvalidAction) it falls back to receive-and-resend', async () => {
    const q = await queues();
    await fill(q.sqs, q.deadLetterQueueUrl, 4);
    const result = await redrive({
      sqs: q.sqs,
      queueUrl: q.queueUrl,
      deadLetterQueueUrl: q.deadLetterQueueUrl,
      emptyReceives: 1,
    });
    expect(result).toMatchObject({ method: RedriveMethods.RESEND, moved: 4 });
    expect(await bodies(q.sqs, q.queueUrl)).toEqual(['m0', 'm1', 'm2', 'm3']);
  });
});
