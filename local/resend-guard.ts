// A resumed run's orchestrator runs again the segment the killed process was reading (local/run-local-job.ts):
// a copy of it, as Lambda's retry of a killed invocation is (functions/orchestrator.ts). The copy reads the
// segment from its start and sends its messages again, each under the same idempotency key holding the same
// tasks (the key is the message's sequence number in the run, `<job>:<run>:<seq>`, and a message is packed by
// count and size only, never by time: lib/fanout/batcher.ts, reread.ts). A message whose key the killed process
// had sent is the killed run's to finish: the resume put it back when it was open (local/run-resume.ts), and
// its tasks ended when it was settled. Sent again, its tasks would run again in `off` and `message` modes (the
// worker has no task record to find), so this middleware, on the orchestrator's SQS client only, drops such a
// send and answers it as sent: the copy goes on as if it had sent it, and neither the queue nor the journal sees
// it. Keys the journal does not hold (a send the kill cut off before its journal line) go out as any send.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { messageKeyOf } from './queue-journal.js';

interface Entry {
  readonly Id?: string;
  readonly MessageBody?: string;
}

interface SendInput {
  readonly QueueUrl?: string;
  readonly MessageBody?: string;
  readonly Entries?: readonly Entry[];
}

interface BatchOutput {
  readonly Successful?: readonly { readonly Id?: string; readonly MessageId?: string }[];
  readonly Failed?: readonly unknown[];
}

export class ResendGuard {
  readonly #queueUrl: string;
  readonly #sent: ReadonlySet<string>;
  /** Messages dropped: sent by the killed process already. */
  dropped = 0;

  /** `sent`: the keys of every task message the killed process sent (local/queue-journal.ts `keys`). */
  constructor(queueUrl: string, sent: ReadonlySet<string>) {
    this.#queueUrl = queueUrl;
    this.#sent = sent;
  }

  #known = (body: string | undefined): boolean => {
    const key = messageKeyOf(body);
    return key !== undefined && this.#sent.has(key);
  };

  /** Outermost on `client`, so the backlog and the task ledger see only what is really sent. */
  attach(client: SQSClient): void {
    if (this.#sent.size === 0) return;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as SendInput;
        if (input.QueueUrl !== this.#queueUrl) return next(args);
        if (context.commandName === 'SendMessageCommand' && this.#known(input.MessageBody)) {
          this.dropped += 1;
          return { output: { $metadata: {}, MessageId: 'resend-dropped' }, response: {} } as never;
        }
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        const entries = input.Entries ?? [];
        const dropped = entries.filter((e) => this.#known(e.MessageBody));
        if (dropped.length === 0) return next(args);
        this.dropped += dropped.length;
        const answered = dropped.map((e) => ({ Id: e.Id, MessageId: 'resend-dropped' }));
        const rest = entries.filter((e) => !dropped.includes(e));
        if (rest.length === 0) {
          const output = { $metadata: {}, Successful: answered, Failed: [] };
          return { output, response: {} } as never;
        }
        const result = await next({ ...args, input: { ...input, Entries: rest } as typeof args.input });
        const out = result.output as BatchOutput;
        const output = { ...out, Successful: [...(out.Successful ?? []), ...answered] };
        return { ...result, output } as never;
      },
      { step: 'initialize', priority: 'high', name: 'boundedFanoutResendGuard' },
    );
  }
}
