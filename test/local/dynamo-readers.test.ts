// Who reads DynamoDB through the endpoint, and whom a run that ends waits for: a real HTTP server on 127.0.0.1
// noting each request as the edge does, and real clients on kept-alive connections of their own.
import { Agent, createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoReaders } from '../../local/dynamo-readers.js';

let readers: DynamoReaders;
/** Answers are held while `holding` is set, to have a read in flight. */
let holding: ServerResponse[] | undefined;
const server = createServer((req, res) => {
  req.resume();
  readers.note(req, res);
  if (holding) holding.push(res);
  else res.end('{}');
});
let port: number;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A client with one kept-alive connection of its own, as the SDK's. */
function client() {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const call = (operation: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        agent,
        headers: { 'x-amz-target': `DynamoDB_20120810.${operation}` },
      });
      req.on('response', (res) => res.resume().on('end', resolve));
      req.on('error', reject);
      req.end('{}');
    });
  return { read: () => call('GetItem'), call, close: () => agent.destroy() };
}

/** Whether `promise` has settled once the callbacks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

const LONG = 60_000;

describe('DynamoReaders', () => {
  it('counts reads only: writes, and no client at all, are not waited for', async () => {
    readers = new DynamoReaders();
    const writer = client();
    await writer.call('PutItem');
    await writer.call('UpdateItem');
    const atEnd = readers.end(LONG);
    expect(atEnd.watching).toBe(0);
    expect(atEnd.remainingMs()).toBe(0);
    expect(await atEnd.readAgain()).toBe(0);
    writer.close();
  });

  it('waits for every connection that read before the end to read again', async () => {
    readers = new DynamoReaders();
    const [a, b] = [client(), client()];
    await a.read();
    await b.read();
    const atEnd = readers.end(LONG);
    expect(atEnd.watching).toBe(2);
    const again = atEnd.readAgain();
    await a.read();
    expect(await settled(again)).toBe(false);
    await b.read();
    expect(await again).toBe(2);
    a.close();
    b.close();
  });

  it('takes a read on a new connection for a client that reconnected', async () => {
    readers = new DynamoReaders();
    const before = client();
    await before.read();
    const atEnd = readers.end(LONG);
    before.close();
    const again = atEnd.readAgain();
    const after = client();
    await after.read();
    expect(await again).toBe(1);
    after.close();
  });

  it('a read on a new connection does not stand for a watching client still connected (a third terminal)', async () => {
    readers = new DynamoReaders();
    const watcher = client();
    await watcher.read();
    const atEnd = readers.end(LONG);
    expect(atEnd.watching).toBe(1);
    const again = atEnd.readAgain();
    const oneShot = client();
    await oneShot.read();
    expect(await settled(again)).toBe(false);
    await watcher.read();
    expect(await again).toBe(1);
    oneShot.close();
    watcher.close();
  });

  it('waits for a client whose read was in flight at the end, and not for that read', async () => {
    readers = new DynamoReaders();
    const c = client();
    holding = [];
    const inFlight = c.read();
    while (holding.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const atEnd = readers.end(LONG);
    expect(atEnd.watching).toBe(1);
    const again = atEnd.readAgain();
    const held = holding;
    holding = undefined;
    for (const res of held) res.end('{}');
    await inFlight;
    expect(await settled(again)).toBe(false);
    await c.read();
    expect(await again).toBe(1);
    c.close();
  });

  it('gives up once the window after the last read has passed, or at once when stopped', async () => {
    readers = new DynamoReaders();
    const c = client();
    await c.read();
    expect(await readers.end(50).readAgain()).toBe(0);
    await c.read();
    const stop = new AbortController();
    const again = readers.end(LONG).readAgain(stop.signal);
    stop.abort();
    expect(await again).toBe(0);
    c.close();
  });
});
