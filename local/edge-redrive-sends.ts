// A redrive's sends through the one local endpoint. `bounded-fanout redrive --endpoint URL` from another process
// moves dead letters into the work queue of the run serving URL: the runtime's own sends are seen by its task
// ledger (local/task-ledger.ts, a middleware on the functions' clients), the redrive's are not, so a run that keeps
// a journal (`run --state DIR`) lost them at a kill -9: its queues are rebuilt from the journal alone, the redrive
// had deleted the dead letters, and the tasks stayed dead-lettered, never run. So the redrive marks its sends
// (REDRIVE_HEADER, harmless to SQS and LocalStack), and the endpoint reads each marked send whole, passes it on,
// and hands what SQS accepted, the request and its answer, to the run (Edge.onRedriveSend) before the redrive
// hears the answer: the journal holds a redriven message before the redrive deletes its dead letter. Unmarked
// requests, the runtime's own sends among them, stream through untouched.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { withoutHopByHop } from './hop-by-hop.js';
import { jsonError } from './json-reply.js';
import { readLimited } from './read-limited.js';
import { replyWith, type UpstreamAnswer, type UpstreamRequest } from './upstream-exchange.js';

export const REDRIVE_HEADER = 'x-bounded-fanout-redrive';

const SENDS = new Set(['AmazonSQS.SendMessage', 'AmazonSQS.SendMessageBatch']);

/** Past SQS's own request size (a batch's 1 MiB): such a send is refused whole, SQS would refuse it too. */
const MAX_SEND_BYTES = 4 * 1024 * 1024;

/** A send SQS accepted: its JSON request and answer (SendMessage's or SendMessageBatch's shape). */
export type RedriveSendListener = (input: unknown, output: unknown) => void;

/** Marks every request `sqs` sends as a redrive's. */
export function markRedriveSends(sqs: SQSClient): void {
  sqs.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[REDRIVE_HEADER] = '1';
      return next(args);
    },
    { step: 'build', name: 'boundedFanoutRedriveMark' },
  );
}

/** Whether `req` is a redrive's SendMessage or SendMessageBatch. */
export function isRedriveSend(req: IncomingMessage): boolean {
  return req.headers[REDRIVE_HEADER] !== undefined && SENDS.has(String(req.headers['x-amz-target'] ?? ''));
}

/**
 * Passes a redrive's send on through `exchange`, hands it to `listener` once SQS accepted it (a 200), then answers.
 * A listener that throws (the journal could not be written) answers 500: the redrive keeps those dead letters.
 */
export async function passRedriveSend(
  req: IncomingMessage,
  res: ServerResponse,
  exchange: (call: UpstreamRequest) => Promise<UpstreamAnswer>,
  listener: RedriveSendListener,
): Promise<void> {
  const body = await readLimited(req, MAX_SEND_BYTES);
  if (body === undefined) {
    return jsonError(res, 413, 'RequestEntityTooLarge', `A send over ${MAX_SEND_BYTES} bytes`);
  }
  const path = req.url ?? '/';
  const answer = await exchange({
    method: req.method ?? 'POST',
    path,
    headers: withoutHopByHop(req.headers),
    body,
  });
  if (answer.status === 200)
    listener(JSON.parse(body.toString('utf8')), JSON.parse(answer.body.toString('utf8')));
  replyWith(res, answer);
}
