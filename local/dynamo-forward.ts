// The DynamoDB front's way through to dynalite (local/dynamo-front.ts): a request passed on unchanged over
// the front's keep-alive agent, and dynalite's answer read whole, to be sent back as it came.
import { type Agent, type IncomingMessage, request } from 'node:http';

export interface Forwarded {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Sends the request, as it came, to `target` and resolves to its answer. */
export function forward(target: URL, agent: Agent, req: IncomingMessage, body: Buffer): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        readBody(answer)
          .then((data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }))
          .catch(reject);
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}

export function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
