// The answers the one local endpoint writes itself in the AWS JSON protocol (EventBridge, secrets, its health
// route): a JSON body, or an error as `{__type, message}` with the type in `x-amzn-errortype`, as the SDK reads it.
import type { ServerResponse } from 'node:http';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function jsonError(res: ServerResponse, status: number, type: string, message: string): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, status, { __type: type, message }, { 'x-amzn-errortype': type });
}
