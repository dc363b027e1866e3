// A call to dynalite's request handler in this thread, with no socket: the DynamoDB front and dynalite share the
// emulator's thread (local/dynamo-emulator.ts), and an HTTP round trip between the two cost more than half of what
// dynalite itself spends on a settle marker (about 0.1 ms of CPU a call, ~950 calls a 20,000-task run).
// dynalite's server is asked exactly as its HTTP server would ask it (the 'request' event, so every listener,
// a test's included, sees the call), with the few parts of a request and a response that a request listener
// uses; its answer comes back as the bytes and headers it wrote.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { Forwarded } from './dynamo-forward.js';

export interface InProcessRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** Asks `server`'s request listeners, and resolves to the answer they end with. */
export function askInProcess(server: Server, request: InProcessRequest, body: Buffer): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const req = Object.assign(new EventEmitter(), {
      method: request.method,
      url: request.url,
      headers: request.headers,
    });
    const headers: Record<string, string | string[] | undefined> = {};
    const res = {
      statusCode: 200,
      setHeader(name: string, value: number | string | string[]) {
        headers[name.toLowerCase()] = typeof value === 'number' ? String(value) : value;
        return res;
      },
      getHeader: (name: string) => headers[name.toLowerCase()],
      end(data?: string | Buffer) {
        const bytes = data === undefined ? Buffer.alloc(0) : Buffer.from(data);
        resolve({ status: res.statusCode, headers, body: bytes });
      },
    };
    try {
      server.emit('request', req, res);
      if (body.length > 0) req.emit('data', body);
      req.emit('end');
    } catch (error) {
      reject(error);
    }
  });
}
