// Ctrl-C during a receive-and-resend `redrive` (a real CLI process against the embedded SQS emulator, fauxqs):
// it stops after the batch in hand and prints what it moved, exit 130; no message is lost, none is in both
// queues, and none is left invisible in the DLQ for its 60 s visibility timeout. A gate proxy between the CLI
// and the emulator holds the redrive's calls once it has moved its first messages, so the interrupt lands
// mid-redrive whatever the machine's speed; the test's own client talks to the emulator directly.
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceNames } from '../../../lib/config.js';
import { queueDepth } from '../../../local/queue-depth.js';
import { drainBodies, sendBodies } from '../fixtures/aws.js';
import { startCli } from './cli-process.js';
import { type GateProxy, startGateProxy } from './gate-proxy.js';

const DEAD_LETTERS = 2_000;

let server: Awaited<ReturnType<typeof startFauxqs>>;
let sqs: SQSClient;
let proxy: GateProxy;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  sqs = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
  proxy = await startGateProxy(endpoint);
});

afterAll(async () => {
  await proxy?.stop();
  sqs?.destroy();
  await server?.stop();
});

/** Resolves once the work queue holds a message (polled straight at the emulator). */
async function firstMoved(queueUrl: string): Promise<void> {
  for (let i = 0; i < 3_000; i++) {
    if ((await queueDepth(sqs, queueUrl)).visible > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the redrive moved nothing in 30 s');
}

describe('Ctrl-C during a redrive', () => {
  it('stops after the batch in hand: what it moved is in the work queue once, the rest visible in the DLQ, exit 130', async () => {
    const names = resourceNames({ prefix: 'ctrlc' });
    const url = async (name: string) =>
      (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
    const [queueUrl, deadLetterQueueUrl] = [await url(names.queue), await url(names.deadLetterQueue)];
    const sent = Array.from({ length: DEAD_LETTERS }, (_, i) => `dead letter ${i}`);
    await sendBodies(sqs, deadLetterQueueUrl, sent);
    const redrive = startCli(['redrive', '--endpoint', proxy.url, '--prefix', 'ctrlc', '--format', 'json']);
    // Its first messages reached the work queue: from here its calls wait at the gate, and it is interrupted.
    await firstMoved(queueUrl);
    proxy.close();
    redrive.child.kill('SIGINT');
    proxy.open();
    const done = await redrive.done;
    expect(done.code, done.stderr).toBe(130);
    const result = JSON.parse(done.stdout);
    expect(result).toMatchObject({ method: 'receive-and-resend', interrupted: true, notMoved: 0 });
    expect(result.moved).toBeGreaterThan(0);
    expect(result.moved).toBeLessThan(DEAD_LETTERS);
    // Nothing left invisible by the stop: the DLQ's rest is visible at once.
    expect(await queueDepth(sqs, deadLetterQueueUrl)).toMatchObject({
      visible: DEAD_LETTERS - result.moved,
      inFlight: 0,
    });
    const moved = await drainBodies(sqs, queueUrl);
    const left = await drainBodies(sqs, deadLetterQueueUrl);
    expect(moved).toHaveLength(result.moved);
    // Every dead letter once, in one queue or the other.
    expect([...moved, ...left].sort()).toEqual([...sent].sort());
  }, 60_000);
});
