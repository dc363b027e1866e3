// A MOCK of three Lambda REST API operations, for the CLI's `limits` success path only: it records the exact
// requests the CLI sent (the local runtime's real control plane, local/lambda-control.ts, is tested with the CLI
// in test/local/cli/serve.test.ts and worker-settings.test.ts). GetFunctionConcurrency answers the last
// reservation put (none at first). A real HTTP server on 127.0.0.1 that answers as the Lambda API does, for one mapping from
// `queue` to `worker`, and records every request it was sent, so a test sees the values the CLI sent.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LambdaCall {
  readonly method: string;
  readonly path: string;
  /** The query's FunctionName, when given. */
  readonly functionName?: string;
  readonly body: unknown;
}

export interface LambdaSettingsMock {
  readonly url: string;
  readonly calls: LambdaCall[];
  readonly uuid: string;
  close(): Promise<void>;
}

const MAPPINGS = /^\/2015-03-31\/event-source-mappings\/?$/;
const MAPPING = /^\/2015-03-31\/event-source-mappings\/([^/]+)$/;
const CONCURRENCY = /^\/(?:2017-10-31|2019-09-30)\/functions\/([^/]+)\/concurrency$/;

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export async function startLambdaSettingsMock(queue: string, worker: string): Promise<LambdaSettingsMock> {
  const uuid = '6f0c6a4e-0000-4000-8000-000000000001';
  const calls: LambdaCall[] = [];
  let reservation: unknown = {};
  const mapping = {
    UUID: uuid,
    EventSourceArn: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
    FunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${worker}`,
    State: 'Enabled',
    BatchSize: 10,
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const body = await bodyOf(req);
    const functionName = url.searchParams.get('FunctionName') ?? undefined;
    calls.push({ method: req.method ?? '', path, ...(functionName ? { functionName } : {}), body });
    const send = (status: number, answer: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    };
    if (req.method === 'GET' && MAPPINGS.test(path)) return send(200, { EventSourceMappings: [mapping] });
    if (req.method === 'PUT' && MAPPING.exec(path)?.[1] === uuid)
      return send(202, { ...mapping, ...(body as object) });
    const fn = CONCURRENCY.exec(path)?.[1];
    if (req.method === 'PUT' && fn === worker) {
      reservation = body;
      return send(200, body);
    }
    if (req.method === 'GET' && fn === worker) return send(200, reservation);
    res.writeHead(404, {
      'content-type': 'application/json',
      'x-amzn-errortype': 'ResourceNotFoundException',
    });
    res.end(JSON.stringify({ Type: 'User', message: `not found: ${req.method} ${path}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    uuid,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
