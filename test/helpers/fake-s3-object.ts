// A real HTTP server on 127.0.0.1 that answers GetObject of one object as S3 does (200 whole, 206 for
// `Range: bytes=<n>-` with Content-Range, ETag), with the faults an emulator cannot make: the first answer cut
// after some bytes (the socket destroyed), a checksum header the bytes do not match, range answers that end
// short of the object, and range asks held unanswered. Every GET is kept, and each held ask's socket says
// when the client closed it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeS3Faults {
  /** Body bytes the first answer passes on before its socket is destroyed. */
  readonly cutFirstAt?: number;
  /** An `x-amz-checksum-crc32` on the whole answer that the bytes do not match. */
  readonly wrongChecksum?: boolean;
  /** Range answers hold this many bytes at most (their Content-Range says so), not the rest of the object. */
  readonly rangeBytes?: number;
  /** Range asks get no answer: the socket stays open until the client closes it. */
  readonly holdRanges?: boolean;
  /** The cut first answer ends its socket cleanly (FIN after the bytes), not with a reset. */
  readonly cutCleanly?: boolean;
}

export interface FakeS3Get {
  readonly range?: string;
  readonly ifMatch?: string;
  /** Settles when the client closed the ask's socket. */
  readonly closed: Promise<void>;
}

export interface FakeS3Object {
  readonly endpoint: string;
  readonly etag: string;
  readonly gets: FakeS3Get[];
  stop(): Promise<void>;
}

export async function startFakeS3Object(body: Buffer, faults: FakeS3Faults = {}): Promise<FakeS3Object> {
  const etag = '"fake-etag-1"';
  const gets: FakeS3Get[] = [];
  const server = createServer((req, res) => {
    req.resume();
    const closed = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
    const range = req.headers.range;
    gets.push({ range, ifMatch: req.headers['if-match'] as string | undefined, closed });
    if (range === undefined) return answerWhole(res, body, etag, faults, gets.length === 1);
    if (faults.holdRanges) return;
    answerRange(req, res, body, etag, faults);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    etag,
    gets,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answerWhole(res: ServerResponse, body: Buffer, etag: string, faults: FakeS3Faults, first: boolean) {
  res.writeHead(200, {
    etag,
    'content-length': body.byteLength,
    'content-type': 'application/x-ndjson',
    ...(faults.wrongChecksum ? { 'x-amz-checksum-crc32': 'AAAAAA==' } : {}),
    ...(first && faults.cutFirstAt !== undefined ? { connection: 'close' } : {}),
  });
  if (!first || faults.cutFirstAt === undefined) return void res.end(body);
  // Destroyed once the bytes are on the wire, as a reset mid-body; or ended, as a peer that closes early.
  res.write(body.subarray(0, faults.cutFirstAt), () =>
    faults.cutCleanly ? res.socket?.end() : res.socket?.destroy(),
  );
}

function answerRange(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  etag: string,
  faults: FakeS3Faults,
) {
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? Number.NaN);
  if (req.headers['if-match'] !== undefined && req.headers['if-match'] !== etag) {
    res.writeHead(412, { 'content-type': 'application/xml' });
    return void res.end('<Error><Code>PreconditionFailed</Code><Message>no</Message></Error>');
  }
  const end = Math.min(body.byteLength, start + (faults.rangeBytes ?? body.byteLength)) - 1;
  res.writeHead(206, {
    etag,
    'content-length': end - start + 1,
    'content-range': `bytes ${start}-${end}/${body.byteLength}`,
  });
  res.end(body.subarray(start, end + 1));
}
