// `bounded-fanout redrive` against the embedded SQS emulator (fauxqs, which has no message-move task, so the
// receive-and-resend path runs): every dead-lettered message lands back in the work queue, bodies and
// attributes intact, and the dead-letter queue ends empty.
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames } from '../../../lib/config.js';
import { redrive } from '../../../local/cli/commands/redrive.js';
import { runCli } from './cli-process.js';

let server: Awaited<ReturnType<typeof startFauxqs>>;
let endpoint: string;
let sqs: SQSClient;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  endpoint = `http://127.0.0.1:${server.port}`;
  sqs = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
});

afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

async function queues(prefix: string) {
  const names = resourceNames({ prefix });
  const { QueueUrl: deadLetterQueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: names.deadLetterQueue }),
  );
  const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: names.queue }));
  return { queueUrl: queueUrl!, deadLetterQueueUrl: deadLetterQueueUrl! };
}

async function fill(queueUrl: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    const n = Math.min(10, count - i);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: n }, (_, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify({ tasks: [`t${i + j}`] }),
          MessageAttributes: { jobId: { DataType: 'String', StringValue: 'job-1' } },
        })),
      }),
    );
  }
}

async function depth(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

async function drain(queueUrl: string): Promise<Array<{ body: string; jobId?: string }>> {
  const out: Array<{ body: string; jobId?: string }> = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return out;
    for (const m of Messages)
      out.push({ body: m.Body ?? '', jobId: m.MessageAttributes?.jobId?.StringValue });
  }
}

describe('redrive', () => {
  it('moves every dead-lettered message back through the CLI', async () => {
    const { queueUrl, deadLetterQueueUrl } = await queues('redrive-cli');
    await fill(deadLetterQueueUrl, 37);
    const result = await runCli(['redrive', '--endpoint', endpoint, '--prefix', 'redrive-cli']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      'Moved 37 messages from redrive-cli-work-dlq to redrive-cli-work (receive-and-resend).\n',
    );
    expect(result.code).toBe(0);
    expect(await depth(deadLetterQueueUrl)).toBe(0);
    const moved = await drain(queueUrl);
    expect(moved.map((m) => JSON.parse(m.body).tasks[0]).sort()).toEqual(
      Array.from({ length: 37 }, (_, i) => `t${i}`).sort(),
    );
    expect(moved.every((m) => m.jobId === 'job-1')).toBe(true);
  });

  it('reports zero for an empty dead-letter queue, in JSON when asked', async () => {
    await queues('redrive-empty');
    const result = await runCli([
      'redrive',
      '--endpoint',
      endpoint,
      '--prefix',
      'redrive-empty',
      '--format',
      'json',
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ method: 'receive-and-resend', moved: 0 });
  });

  it('moves in process too (the function the command wraps)', async () => {
    const urls = await queues('redrive-fn');
    await fill(urls.deadLetterQueueUrl, 12);
    const result = await redrive({ sqs, ...urls, emptyReceives: 1 });
    expect(result).toMatchObject({ method: 'receive-and-resend', moved: 12 });
    expect(await depth(urls.queueUrl)).toBe(12);
  });

  it('moves what the DLQ held at its start, once each; what arrives during it stays, visible, for the next', async () => {
    const urls = await queues('redrive-during');
    await fill(urls.deadLetterQueueUrl, 25);
    // One dead letter in flight at the start (another reader holds it): counted in the DLQ's depth, not
    // received, so the redrive may move up to 25 and finds only 24; the rest of its budget must not go to
    // the dead letters that arrive during it.
    const { Messages: inFlight = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: urls.deadLetterQueueUrl, VisibilityTimeout: 300 }),
    );
    expect(inFlight).toHaveLength(1);
    // Every task it moves fails again at once: its body comes back to the DLQ, marked, as the worker's new
    // dead letter would. The guard ends a redrive that keeps moving them.
    const redriving = new SQSClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      useQueueUrlAsEndpoint: false,
    });
    let again = 0;
    redriving.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'SendMessageBatchCommand') {
          const { Entries = [] } = args.input as { Entries?: { MessageBody?: string }[] };
          again += Entries.length;
          if (again > 100) throw new Error('guard: the redrive keeps moving what it moved');
          await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: urls.deadLetterQueueUrl,
              Entries: Entries.map((e, i) => ({ Id: String(i), MessageBody: `${e.MessageBody} again` })),
            }),
          );
        }
        return out;
      },
      { step: 'initialize', name: 'fails-again-at-once' },
    );
    try {
      const result = await redrive({ sqs: redriving, ...urls });
      expect(result).toMatchObject({ method: 'receive-and-resend', moved: 24 });
    } finally {
      redriving.destroy();
    }
    const heldBody = inFlight[0]!.Body!;
    const moved = (await drain(urls.queueUrl)).map((m) => m.body);
    expect(moved.sort()).toEqual(
      Array.from({ length: 25 }, (_, i) => JSON.stringify({ tasks: [`t${i}`] }))
        .filter((b) => b !== heldBody)
        .sort(),
    );
    // The new dead letters, visible again for the next redrive; the one in flight is still held by its reader.
    const left = (await drain(urls.deadLetterQueueUrl)).map((m) => m.body);
    expect(left.sort()).toEqual(moved.map((b) => `${b} again`).sort());
    expect(await depth(urls.deadLetterQueueUrl)).toBe(25);
  });

  it('exits 2 with one line for a missing queue and for an unreachable endpoint', async () => {
    const missing = await runCli(['redrive', '--endpoint', endpoint, '--prefix', 'nothing-here']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `bounded-fanout: No queue named nothing-here-work at ${endpoint} (is the stack deployed there? see --prefix)\n`,
    );
    const unreachable = await runCli(['redrive', '--endpoint', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(
      /^bounded-fanout: Cannot reach --endpoint http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED.*\n$/,
    );
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
  });
});
