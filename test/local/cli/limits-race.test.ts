// `bounded-fanout limits` racing other writers of the run's record: a second `limits` (another operator), and the
// run's end. The command runs in this process (limitsCommand) on the real store (JobLedgerTable) over the test
// backend's DynamoDB; its ledger is the real one with a hook (named so: an interleaving, not a mock) that lets the
// rival write land between the command's read of the record and its own write, the window two operators hit.
import { PassThrough } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { OverlapPolicies, resourceNames, withDefaults } from '../../../lib/config.js';
import type { JobLedger } from '../../../lib/ledger/job-ledger.js';
import { finalStatus } from '../../../lib/ledger/run-rules.js';
import { limitsCommand } from '../../../local/cli/commands/limits.js';
import type { LimitsArgs } from '../../../local/cli/ledger-args.js';
import { type LedgerTarget, openLedgerTarget } from '../../../local/cli/ledger-target.js';
import { createResources, localCredentials } from '../../../local/resources.js';

const backend = inject('backend');
const prefix = `cli-limrace-${process.pid}`;
const endpoint = backend.endpoints.dynamodb;
let dynamodb: DynamoDBClient;
let ledger: JobLedgerTable;

beforeAll(async () => {
  await createResources({ prefix, visibilityTimeoutSeconds: 30, maxReceiveCount: 3 }, backend);
  dynamodb = new DynamoDBClient({ endpoint, region: backend.region, credentials: localCredentials });
  ledger = new JobLedgerTable(dynamodb, { tableName: resourceNames({ prefix }).jobTable, retentionDays: 1 });
});

afterAll(() => dynamodb?.destroy());

const args = (job: string, pairs: string[]): LimitsArgs => ({
  command: 'limits',
  endpoint,
  prefix,
  retentionDays: 1,
  verbose: false,
  format: 'text',
  job,
  pairs,
  config: withDefaults({ prefix, perInvocationConcurrency: 16, inlineConcurrency: 32 }),
});

/** The command's output, and its exit code. */
async function limits(
  a: LimitsArgs,
  target?: LedgerTarget,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  const text = (s: PassThrough) => s.read()?.toString() ?? '';
  const io = { stdout, stderr, env: {}, stderrIsTTY: false };
  const code = await limitsCommand(a, io, target);
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

/** The real target, `rival` run once right before the command's first write of the run's limits. */
function targetWithRival(a: LimitsArgs, rival: () => Promise<unknown>): LedgerTarget {
  const target = openLedgerTarget(a, {});
  let pending: (() => Promise<unknown>) | undefined = rival;
  const real = target.ledger;
  const hooked: JobLedger = Object.create(real, {
    setLimits: {
      value: async (...call: Parameters<JobLedger['setLimits']>) => {
        const go = pending;
        pending = undefined;
        await go?.();
        return real.setLimits(...call);
      },
    },
  });
  return { ...target, ledger: hooked };
}

async function startRun(jobId: string) {
  await ledger.startRun({
    jobId,
    runId: 'r1',
    startedAt: Date.now(),
    toleratedFailurePercent: 100,
    overlap: OverlapPolicies.ALLOW,
  });
}

describe('limits racing another writer', () => {
  it('two operators at once: neither override is lost, each told what the record then holds', async () => {
    await startRun('race-a');
    const mine = args('race-a', ['perInvocationConcurrency=2']);
    const target = targetWithRival(mine, () => limits(args('race-a', ['inlineConcurrency=3'])));
    try {
      const result = await limits(mine, target);
      expect(result).toEqual({
        code: 0,
        stdout: 'run r1 of job race-a: limits perInvocationConcurrency=2 inlineConcurrency=3\n',
        stderr: '',
      });
    } finally {
      target.destroy();
    }
    expect((await ledger.getRun('race-a', 'r1'))?.limits).toEqual({
      perInvocationConcurrency: 2,
      inlineConcurrency: 3,
    });
  });

  it('the run ends between the read and the write: its limits no longer apply, exit 1, nothing written', async () => {
    await startRun('race-b');
    const settled = await ledger.settle({
      jobId: 'race-b',
      runId: 'r1',
      key: 'segment:0',
      delta: { submitted: 1, succeeded: 1 },
      manifestDone: true,
    });
    const mine = args('race-b', ['perInvocationConcurrency=2']);
    const target = targetWithRival(mine, () => ledger.finish(settled.record!, finalStatus(settled.record!)));
    try {
      expect(await limits(mine, target)).toEqual({
        code: 1,
        stdout: '',
        stderr: 'bounded-fanout: run r1 of job race-b is succeeded: its limits no longer apply\n',
      });
    } finally {
      target.destroy();
    }
    const after = await ledger.getRun('race-b', 'r1');
    expect(after).toMatchObject({ status: 'succeeded', version: 2 });
    expect(after?.limits).toBeUndefined();
  });
});
