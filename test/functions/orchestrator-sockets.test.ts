// An orchestrator invocation that opens an S3 manifest and then reads no task of it (its run skipped under
// `forbid`, as here; a duplicate delivery of a segment already run; a retry that finds the file rewritten) lets
// the object's body go when it ends (functions/orchestrator.ts): an unread body holds its socket, and the AWS
// clients of a container share one bounded agent (lib/aws/clients.ts), so a warm container that skipped
// `awsMaxSockets` runs would wait for ever on its next call to SQS, S3 or DynamoDB. Through the real handler on
// the backend's S3, the agent's sockets counted.
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrchestratorResult } from '../../functions/orchestrator.js';
import type { FunctionRuntime } from '../../functions/runtime.js';
import { fakeContext, type Harness, quietPowertools, startHarness } from './harness.js';
import { orchestratorContainers } from './orchestrator-containers.js';

quietPowertools();

const MAX_SOCKETS = 3;
let h: Harness;
let rt: FunctionRuntime;
let orchestrator: (event: unknown, context: ReturnType<typeof fakeContext>) => Promise<OrchestratorResult>;
const containers = orchestratorContainers(() => h);

beforeAll(async () => {
  h = await startHarness({ awsMaxSockets: MAX_SOCKETS });
  ({ runtime: rt, orchestrator } = await containers.container());
});
afterAll(async () => {
  await containers.destroy();
  h?.destroy();
});

/** Sockets of the container's AWS agent in use now (a request or a response not read to its end). */
const busySockets = () =>
  Object.values(rt.aws.httpAgent.sockets).reduce((n, list) => n + (list?.length ?? 0), 0);

describe('an S3 manifest opened and not read', () => {
  it('lets its socket go: a warm container skips many more runs than it has sockets, and still answers', async () => {
    const key = 'manifests/sockets.json';
    // Large enough that its body is not read whole before anyone asks (a socket is freed only at its end).
    const tasks = Array.from({ length: 60_000 }, (_, i) => ({
      id: `s${i}`,
      url: `http://127.0.0.1:9/${'p'.repeat(40)}${i}`,
    }));
    await rt.aws.s3.send(
      new PutObjectCommand({
        Bucket: h.resources.bucket,
        Key: key,
        Body: JSON.stringify({ jobId: 'sockets', tasks }),
      }),
    );
    const event = { manifest: `s3://${h.resources.bucket}/${key}` };
    // A running run of the job ...
    const started = {
      jobId: 'sockets',
      runId: 'sockets-0',
      startedAt: Date.now(),
      toleratedFailurePercent: 0,
    };
    await rt.ledger!.startRun({ ...started, overlap: 'forbid' });
    // ... then many schedules of it, each skipped (forbid), each opening the manifest and reading no task.
    for (let i = 1; i <= MAX_SOCKETS * 3; i++) {
      const skipped = await orchestrator(
        event,
        fakeContext(() => 60_000, `sockets-${i}`),
      );
      expect(skipped).toMatchObject({ status: 'skipped', previousRunId: 'sockets-0' });
    }
    // Before, the fourth skip waited for ever on a socket: each skipped run's unread body held one. A socket
    // let go leaves the agent's list when it has closed, a few turns of the event loop later.
    for (let i = 0; i < 100 && busySockets() > 0; i++) await sleep(10);
    expect(busySockets()).toBe(0);
    expect(await rt.ledger!.getRun('sockets', 'sockets-0')).toMatchObject({ status: 'running' });
  }, 60_000);
});
