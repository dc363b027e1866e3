// The Invoke API's wire format as Lambda's endpoint speaks it: JSON replies, the error type and request id
// headers, the error body a handler's throw becomes, and a request body read up to the payload quota.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export function errorHeaders(type: string): Record<string, string> {
  return { 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID() };
}

export function errorBody(error: unknown) {
  const e = error instanceof Error ? error : new Error(String(error));
  return {
    errorType: e.name,
    errorMessage: e.message,
    trace: (e.stack ?? '').split('\n'),
  };
}

export function reply(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body?: unknown,
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The request body, or undefined when it exceeds `limit` bytes (the rest is discarded, not buffered). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk as Buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}
