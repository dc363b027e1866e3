// The one local endpoint's EventBridge (local/edge.ts): PutEvents, its only operation, answered by the in-memory
// bus (local/event-bus.ts); a body past four times the API's 256 KiB is read and dropped, never held.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EventBus, EventBusRequestError, MAX_PUT_EVENTS_BYTES } from './event-bus.js';
import { jsonError, sendJson } from './json-reply.js';
import { readLimited } from './read-limited.js';

/** Answers a PutEvents call from `bus`: what it accepted, or the error the SDK reads as EventBridge's. */
export async function answerPutEvents(
  req: IncomingMessage,
  res: ServerResponse,
  bus: EventBus,
): Promise<void> {
  const target = String(req.headers['x-amz-target'] ?? '');
  const body = await readLimited(req, 4 * MAX_PUT_EVENTS_BYTES);
  if (body === undefined) {
    return jsonError(res, 413, 'RequestEntityTooLargeException', 'Request size exceeded the 256 KiB limit');
  }
  if (target !== 'AWSEvents.PutEvents') {
    return jsonError(
      res,
      400,
      'UnknownOperationException',
      `The local event bus answers only PutEvents, not ${target}`,
    );
  }
  let input: unknown;
  try {
    input = JSON.parse(body.toString('utf8') || '{}');
  } catch {
    return jsonError(res, 400, 'SerializationException', 'The request body is not JSON');
  }
  try {
    sendJson(res, 200, bus.putEvents(input));
  } catch (error) {
    if (!(error instanceof EventBusRequestError)) throw error;
    jsonError(res, 400, error.type, error.message);
  }
}
