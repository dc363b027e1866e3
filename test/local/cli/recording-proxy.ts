// A real HTTP proxy on 127.0.0.1 in front of a real endpoint (here the local runtime's Lambda control plane,
// local/lambda-control.ts): it records each request it passes on (method, path, the FunctionName query, the JSON
// body), so a test sees exactly what a client sent, and the endpoint's real answers come back unchanged.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  /** The query's FunctionName, when given. */
  readonly functionName?: string;
  readonly body: unknown;
}

export interface RecordingProxy {
  readonly url: string;
  readonly calls: RecordedCall[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const calls: RecordedCall[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const functionName = url.searchParams.get('FunctionName') ?? undefined;
    const body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
    calls.push({
      method: req.method ?? '',
      path: url.pathname,
      ...(functionName ? { functionName } : {}),
      body,
    });
    const out = request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', (error) => res.destroy(error));
    out.end(raw);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
