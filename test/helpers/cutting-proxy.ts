// A real HTTP proxy on 127.0.0.1 in front of a real endpoint (the S3 emulator) that cuts answers short: each
// GET whose path ends with the path given takes the next cut point off `cuts`, passes on the answer's head
// and that many bytes of its body, then destroys the client's socket, as a connection reset mid-body does (at
// 0, before any answer; at HOLD, it never answers: the ask waits until the client gives it up).
// Every request's method, path and Range / If-Match headers are kept for the test to read.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly ifMatch?: string;
}

/** A cut point that holds the ask unanswered, as a connection to a host gone silent. */
export const HOLD = -1;

export interface CuttingProxy {
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Cut the next GETs of paths ending with `suffix`, one cut point (body bytes passed on) each. */
  cut(suffix: string, ...cuts: number[]): void;
  stop(): Promise<void>;
}

export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const agent = new Agent({ keepAlive: true });
  const requests: SeenRequest[] = [];
  let suffix = '';
  let cuts: number[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? '/';
    const header = (name: string) => req.headers[name] as string | undefined;
    requests.push({ method: req.method ?? '', path, range: header('range'), ifMatch: header('if-match') });
    const cutAt =
      req.method === 'GET' && suffix && path.split('?')[0].endsWith(suffix) ? cuts.shift() : undefined;
    // A cut at 0: the connection is reset before any answer.
    if (cutAt === 0) return void req.socket.destroy();
    if (cutAt === HOLD) return;
    const out = request(new URL(path, target), { method: req.method, headers: req.headers, agent });
    out.on('response', (answer) => {
      if (cutAt === undefined) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        return void answer.pipe(res);
      }
      // The client must not reuse the socket this answer is cut on (it would meet the reset on its next call).
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, connection: 'close' });
      let left = cutAt;
      answer.on('data', (chunk: Buffer) => {
        if (left <= 0) return;
        const part = chunk.subarray(0, left);
        left -= part.byteLength;
        // Destroyed once the bytes are on the wire: before, the client might not get even the head.
        res.write(part, () => {
          if (left <= 0) res.socket?.destroy();
        });
      });
      // Shorter than the cut: the whole answer, ended as usual.
      answer.on('end', () => {
        if (left > 0) res.end();
      });
    });
    out.on('error', () => res.destroy());
    out.end(Buffer.concat(chunks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    cut: (ends, ...points) => {
      suffix = ends;
      cuts = points;
    },
    stop: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
