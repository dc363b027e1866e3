// The heartbeat's stop (functions/segment-heartbeat.ts) against a DynamoDB endpoint that takes the beat and never
// answers (a real TCP server on 127.0.0.1, the real SDK client as the functions make it): the segment's end
// must not wait on a beat for the client's socket timeout (120 s, then its retries), far past the deadline
// margin the segment stopped at (10 s), which would turn a segment that settled into a timed-out invocation.
import { createServer, type Server, type Socket } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startHeartbeat } from '../../functions/segment-heartbeat.js';
import { createAwsClients } from '../../lib/aws/clients.js';
import { SegmentBeats } from '../../lib/aws/segment-beats.js';

let server: Server;
let endpoint: string;
const sockets: Socket[] = [];
let bytesIn = 0;

const savedKeys = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  // Reads every request and answers none: a stalled connection.
  server = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk) => {
      bytesIn += chunk.length;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  endpoint = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const [name, value] of [
    ['AWS_ACCESS_KEY_ID', savedKeys.id],
    ['AWS_SECRET_ACCESS_KEY', savedKeys.secret],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('a segment heartbeat stopped while its beat gets no answer', () => {
  it('stops without waiting for the stalled beat', { timeout: 20_000 }, async () => {
    const aws = createAwsClients({ maxSockets: 4, endpoint, region: 'us-east-1' });
    onTestFinished(() => aws.dynamodb.destroy());
    const beats = new SegmentBeats(aws.dynamodb, { tableName: 'jobs' });
    const logger = new Logger({ logLevel: 'SILENT' });
    const stop = startHeartbeat(beats, { jobId: 'j', runId: 'r', segment: 0 }, 60_000, logger);
    // The beat reached the server: it is in flight, and will never be answered.
    for (let i = 0; i < 200 && bytesIn === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(bytesIn).toBeGreaterThan(0);
    // Unbounded, this waited the client's 120 s socket timeout (and its retries): the test's timeout failed it.
    let stopped = false;
    const stopping = stop().then(() => {
      stopped = true;
    });
    await Promise.race([stopping, new Promise((r) => setTimeout(r, 15_000))]);
    expect(stopped).toBe(true);
  });
});
