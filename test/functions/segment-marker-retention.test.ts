import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, startCountingServer } from '../../bench/servers/counting-server.js';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { DEAD_LETTER_RETENTION_SECONDS } from '../../lib/config.js';
import { readDeadLetterBody } from '../../lib/fanout/messages.js';
import { settleKey } from '../../lib/ledger/ledger-keys.js';
import { drainQueue, fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { orchestratorContainers } from './orchestrator-containers.js';

// A segment's `segment:<n>` marker is what the worker judges the segment's dead letters by (the copy whose
// settle counted: functions/segment-copies.ts). One whose marker is gone is judged unsettled and sent back to
// the DLQ, at every redrive, never run. So the marker must outlive every dead letter the segment sent: a dead
// letter lives in the DLQ up to its retention (14 days) from its send, which came before the settle, and the
// ledger's retention (resultsRetentionDays) may be as short as a day. Through the real orchestrator against
// the backend's DLQ and job table, with a real 127.0.0.1 target that answers 404.

quietPowertools();

let h: Harness;
let server: CountingServer;
let runtime: FunctionRuntime;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
const containers = orchestratorContainers(() => h);

beforeAll(async () => {
  server = await startCountingServer({ delayMs: 1 });
  server.script(() => ({ status: 404 }));
  h = await startHarness({ resultsRetentionDays: 1, deadlineMarginMs: 1000 });
  ({ runtime: runtime, orchestrator } = await containers.container());
});

afterAll(async () => {
  await containers.destroy();
  await server?.close();
  h?.destroy();
});

describe('a segment’s marker and its dead letters', () => {
  it('the marker outlives the DLQ’s retention of the segment’s dead letters, with a one-day ledger retention', async () => {
    const tasks = [{ id: 'd', url: `${server.url}/gone/d`, mode: 'inline' }];
    const event = { jobId: 'retained', runId: 'r1', tasks, toleratedFailurePercent: 100 };
    expect(await orchestrator(event, fakeContext())).toMatchObject({ status: 'succeeded' });
    const [dead] = await drainQueue(h.sqs, h.resources.deadLetterQueueUrl);
    const read = readDeadLetterBody(dead.Body ?? '');
    expect(read.kind).toBe('dead-letter');
    const copy = read.kind === 'dead-letter' ? read.message.copy : undefined;
    const { pk, sk } = settleKey('retained', 'r1', 'segment:0');
    const { Item } = await runtime.aws.dynamodb.send(
      new GetItemCommand({ TableName: h.resources.jobTable, Key: { pk: { S: pk }, sk: { S: sk } } }),
    );
    // The dead letter is the settle's copy's: the worker would judge it by this marker.
    expect(Item?.state?.M?.copy?.S).toBe(copy?.id);
    const sentSeconds = Number(dead.Attributes?.SentTimestamp) / 1000;
    expect(Number(Item?.expiresAt?.N)).toBeGreaterThanOrEqual(sentSeconds + DEAD_LETTER_RETENTION_SECONDS);
  });
});
