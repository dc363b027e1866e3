// The job ledger's DynamoDB store against the backend's DynamoDB (the front over dynalite, or LocalStack),
// through the real SDK: settles count once per key, a run ends exactly once, overlap policies hold when
// two runs race, and the conditional status changes do what they say.
import { randomBytes } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobLedgerTable } from '../../../lib/aws/job-ledger-table.js';
import { afterSettle } from '../../../lib/ledger/after-settle.js';
import type { StartRunInput } from '../../../lib/ledger/job-ledger.js';
import { movedKey, runKey, settleKey } from '../../../lib/ledger/ledger-keys.js';
import {
  type COUNT_NAMES,
  type CountDelta,
  type RunRecord,
  zeroCounts,
} from '../../../lib/ledger/run-record.js';
import { finalStatus, isComplete } from '../../../lib/ledger/run-rules.js';
import { RUNS } from '../../helpers/runs.js';
import { freshJobTable } from '../../local/fixtures/aws.js';

let client: DynamoDBClient;
let tableName: string;
const clock = 1_000_000;
let ledger: JobLedgerTable;

beforeAll(async () => {
  ({ client, tableName } = await freshJobTable('ledger'));
  ledger = new JobLedgerTable(client, { tableName, retentionDays: 7, now: () => clock });
});
afterAll(() => client?.destroy());

const newJob = () => `job-${randomBytes(4).toString('hex')}`;
const start = (jobId: string, runId: string, more: Partial<StartRunInput> = {}) =>
  ledger.startRun({
    jobId,
    runId,
    startedAt: clock,
    toleratedFailurePercent: 10,
    overlap: 'forbid',
    ...more,
  });

describe('JobLedgerTable options', () => {
  it('refuses bad options with the option and the value', () => {
    expect(() => new JobLedgerTable(client, { tableName: '', retentionDays: 7 })).toThrow(
      'Expected `tableName` to be a table name, got ""',
    );
    expect(() => new JobLedgerTable(client, { tableName: 't', retentionDays: 0 })).toThrow(
      'Expected `retentionDays` to be an integer >= 1, got 0',
    );
    expect(() => new JobLedgerTable(client, { tableName: 't', retentionDays: 1, now: 5 as never })).toThrow(
      'Expected `now` to be a function returning epoch ms, got 5',
    );
  });

  it('refuses a delta that is not a count', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    await expect(ledger.settle({ jobId, runId: 'r1', key: 'k', delta: { succeeded: 1.5 } })).rejects.toThrow(
      'Expected `delta.succeeded` to be an integer, got 1.5',
    );
    await expect(
      ledger.settle({ jobId, runId: 'r1', key: 'k', delta: { bogus: 1 } as CountDelta }),
    ).rejects.toThrow('Expected `delta.bogus` to be one of submitted, succeeded');
  });
});

describe('startRun', () => {
  it('starts a run at zero, version 1, running; a retry gets the same record', async () => {
    const jobId = newJob();
    const first = await start(jobId, 'r1');
    expect(first.action).toBe('start');
    expect(first.record).toEqual({
      jobId,
      runId: 'r1',
      status: 'running',
      startedAt: clock,
      manifestDone: false,
      toleratedFailurePercent: 10,
      version: 1,
      ...zeroCounts(),
    });
    expect(await start(jobId, 'r1')).toEqual({ action: 'start', record: first.record });
    expect(await ledger.getRun(jobId)).toEqual(first.record);
  });

  it('forbid: a second run while the first runs is recorded skipped and the pointer stays', async () => {
    const jobId = newJob();
    const first = await start(jobId, 'r1');
    const second = await start(jobId, 'r2');
    expect(second.action).toBe('skip');
    expect(second.previous).toEqual(first.record);
    expect(second.record).toMatchObject({
      status: 'skipped',
      reason: 'overlap',
      finishedAt: clock,
      runId: 'r2',
    });
    expect(await ledger.getRun(jobId, 'r2')).toEqual(second.record);
    expect((await ledger.getRun(jobId))?.runId).toBe('r1');
    expect((await start(jobId, 'r2')).action).toBe('skip');
  });

  it('replace: the previous run is cancelled (replaced) and the new one starts', async () => {
    const jobId = newJob();
    await start(jobId, 'r1', { overlap: 'replace' });
    const second = await start(jobId, 'r2', { overlap: 'replace' });
    expect(second.action).toBe('replace');
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({
      status: 'cancelled',
      reason: 'replaced',
      version: 2,
    });
    expect(await ledger.getRun(jobId)).toMatchObject({ runId: 'r2', status: 'running' });
  });

  it('allow: both run and the pointer names the newer', async () => {
    const jobId = newJob();
    await start(jobId, 'r1', { overlap: 'allow' });
    expect((await start(jobId, 'r2', { overlap: 'allow' })).action).toBe('start');
    expect((await ledger.getRun(jobId, 'r1'))?.status).toBe('running');
    expect((await ledger.getRun(jobId))?.runId).toBe('r2');
  });

  it('forbid: of two runs racing for one job, exactly one starts', async () => {
    for (let i = 0; i < 10; i++) {
      const jobId = newJob();
      const results = await Promise.all([start(jobId, 'a'), start(jobId, 'b')]);
      const started = results.filter((r) => r.action === 'start');
      expect(started).toHaveLength(1);
      expect(results.filter((r) => r.action === 'skip')).toHaveLength(1);
      expect((await ledger.getRun(jobId))?.runId).toBe(started[0].record.runId);
    }
  });
});

describe("TTL: DynamoDB's expiresAt", () => {
  const expiresAt = Math.floor(clock / 1000) + 7 * 86_400;
  /** The item's raw expiresAt (the store's records do not carry it). */
  async function rawExpiry(key: { pk: string; sk: string }): Promise<string | undefined> {
    const out = await client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: key.pk }, sk: { S: key.sk } },
        ConsistentRead: true,
      }),
    );
    expect(out.Item, `${key.pk} ${key.sk}`).toBeDefined();
    return out.Item?.expiresAt?.N;
  }

  it('a running run has none; its markers and the finished run expire retentionDays after their write', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    expect(await rawExpiry(runKey(jobId, 'r1'))).toBeUndefined();
    const settled = await ledger.settle({
      jobId,
      runId: 'r1',
      key: 'm1',
      delta: { submitted: 2, succeeded: 2 },
      manifestDone: true,
    });
    expect(await rawExpiry(settleKey(jobId, 'r1', 'm1'))).toBe(String(expiresAt));
    expect(await rawExpiry(runKey(jobId, 'r1'))).toBeUndefined();
    const record = settled.record as RunRecord;
    expect(await ledger.finish(record, finalStatus(record))).toMatchObject({ status: 'succeeded' });
    expect(await rawExpiry(runKey(jobId, 'r1'))).toBe(String(expiresAt));
  });

  it('a redriven task’s move marker outlives the dead letters it guards: retentionDays plus 14 days', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    await ledger.settle({ jobId, runId: 'r1', key: 'm1', delta: { submitted: 1, deadLettered: 1 } });
    const key = movedKey('t1');
    const moved = await ledger.settle({ jobId, runId: 'r1', key, delta: { succeeded: 1, deadLettered: -1 } });
    expect(moved).toMatchObject({ applied: true, record: { succeeded: 1, deadLettered: 0 } });
    expect(await rawExpiry(settleKey(jobId, 'r1', key))).toBe(String(expiresAt + 14 * 86_400));
    expect(await rawExpiry(settleKey(jobId, 'r1', 'm1'))).toBe(String(expiresAt));
  });

  it('a run skipped for overlap expires too', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    expect(await start(jobId, 'r2')).toMatchObject({ action: 'skip', record: { status: 'skipped' } });
    expect(await rawExpiry(runKey(jobId, 'r2'))).toBe(String(expiresAt));
    expect(await rawExpiry(runKey(jobId, 'r1'))).toBeUndefined();
  });
});

describe('markAnnounced', () => {
  it('notes an ended run once; a running run is never noted', async () => {
    const jobId = newJob();
    const { record: running } = await start(jobId, 'r1');
    expect(await ledger.markAnnounced(running)).toBe(false);
    const { record } = await ledger.settle({ jobId, runId: 'r1', key: 'm', delta: {}, manifestDone: true });
    const ended = (await ledger.finish(record!, finalStatus(record!)))!;
    expect(ended.announcedAt).toBeUndefined();
    expect(await ledger.markAnnounced(ended)).toBe(true);
    expect(await ledger.markAnnounced(ended)).toBe(false);
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ announcedAt: clock, version: ended.version });
  });
});

describe('settle', () => {
  it('counts each key once under concurrent duplicate settles (20 settles of 5 keys: 5 applied)', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    const settles = Array.from({ length: 20 }, (_, i) =>
      ledger.settle({
        jobId,
        runId: 'r1',
        key: `k${i % 5}`,
        delta: { succeeded: (i % 5) + 1, submitted: 1 },
      }),
    );
    const results = await Promise.all(settles);
    expect(results.filter((r) => r.applied)).toHaveLength(5);
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ succeeded: 15, submitted: 5, version: 1 });
  });

  it('keeps the state of the first settle of a key only: of copies racing, the applied one is read back', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    expect(await ledger.settledState(jobId, 'r1', 'segment:0')).toBeUndefined();
    const copies = [3, 7, 5].map((cursor) =>
      ledger.settle({
        jobId,
        runId: 'r1',
        key: 'segment:0',
        delta: { submitted: cursor },
        state: { cursor, counts: { read: cursor } },
      }),
    );
    const results = await Promise.all(copies);
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    const winner = [3, 7, 5][results.findIndex((r) => r.applied)];
    expect(await ledger.settledState(jobId, 'r1', 'segment:0')).toEqual({
      cursor: winner,
      counts: { read: winner },
    });
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ submitted: winner });
    // A key settled without a state keeps none.
    await ledger.settle({ jobId, runId: 'r1', key: 'm1', delta: { succeeded: 1 } });
    expect(await ledger.settledState(jobId, 'r1', 'm1')).toBeUndefined();
    // Settled with no state, or not settled: the marker tells them apart.
    expect(await ledger.settledMarker(jobId, 'r1', 'm1')).toEqual({});
    expect(await ledger.settledMarker(jobId, 'r1', 'm2')).toBeUndefined();
    expect(await ledger.settledMarker(jobId, 'r1', 'segment:0')).toEqual({
      state: { cursor: winner, counts: { read: winner } },
    });
  });

  it('applies nothing for a run with no record', async () => {
    expect(await ledger.settle({ jobId: newJob(), runId: 'r1', key: 'k', delta: { succeeded: 1 } })).toEqual({
      applied: false,
      record: undefined,
    });
  });

  it('sets manifestDone, even with an empty delta', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    const result = await ledger.settle({
      jobId,
      runId: 'r1',
      key: 'segment:0',
      delta: {},
      manifestDone: true,
    });
    expect(result.applied).toBe(true);
    expect(result.record).toMatchObject({ manifestDone: true, ...zeroCounts() });
  });
});

/** Containers settling one run in the completion property. */
const CONTAINERS = 3;

describe('completion', () => {
  it('ends a run exactly once, whatever the interleaving of settles, duplicates and finishes', async () => {
    const unit = fc.record({
      succeeded: fc.integer({ min: 0, max: 3 }),
      deadLettered: fc.integer({ min: 0, max: 1 }),
      invalid: fc.integer({ min: 0, max: 1 }),
    });
    const plan = fc.record({
      units: fc.array(unit, { minLength: 1, maxLength: 2 }),
      copies: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 3, maxLength: 3 }),
      finishers: fc.integer({ min: 2, max: 3 }),
      // Which container sends each settle and finish: each has its own store and settle groups, so their
      // transactions race at the table rather than queue behind one another in one process.
      via: fc.array(fc.integer({ min: 0, max: CONTAINERS - 1 }), { minLength: 12, maxLength: 12 }),
    });
    const containers = Array.from({ length: CONTAINERS }, (_, i) =>
      i === 0 ? ledger : new JobLedgerTable(client, { tableName, retentionDays: 7, now: () => clock }),
    );
    await fc.assert(
      fc.asyncProperty(plan, fc.scheduler(), async ({ units, copies, finishers, via }, s) => {
        const jobId = newJob();
        await start(jobId, 'r');
        const submitted = units.reduce((n, u) => n + u.succeeded + u.deadLettered + u.invalid, 0);
        // The orchestrator's segment (submitted, manifest read) and one settle per unit, some delivered twice.
        const inputs = [
          { key: 'segment:0', delta: { submitted }, manifestDone: true },
          ...units.map((delta, i) => ({ key: `m${i}`, delta })),
        ].flatMap((input, i) => Array.from({ length: copies[i] ?? 1 }, () => input));
        const settle = s.scheduleFunction((input: (typeof inputs)[number], c: number) =>
          containers[c].settle({ jobId, runId: 'r', ...input }),
        );
        const wins: RunRecord[] = [];
        const finish = s.scheduleFunction(async (record: RunRecord, c: number) => {
          const won = await containers[c].finish(record, finalStatus(record), `s3://b/${jobId}`);
          if (won) wins.push(won);
        });
        const work = inputs.map(async (input, i) => {
          const { record } = await settle(input, via[i]);
          if (record && isComplete(record)) {
            const finishes = Array.from({ length: finishers }, (_, f) =>
              finish(record, via[(i + f + 6) % 12]),
            );
            await Promise.all(finishes);
          }
        });
        await s.waitFor(Promise.all(work));
        const final = (await ledger.getRun(jobId, 'r'))!;
        expect(wins).toHaveLength(1);
        expect(wins[0]).toEqual(final);
        const sum = (name: (typeof COUNT_NAMES)[number]) =>
          units.reduce((n, u) => n + ((u as CountDelta)[name] ?? 0), 0);
        expect(final).toMatchObject({
          submitted,
          succeeded: sum('succeeded'),
          deadLettered: sum('deadLettered'),
          invalid: sum('invalid'),
          finishedAt: clock,
          resultUri: `s3://b/${jobId}`,
          ...finalStatus({ ...final, status: 'running' }),
        });
      }),
      { numRuns: RUNS },
    );
    // About 40 real DynamoDB calls per run (start, 3 to 6 settles, 2 or 3 finishes): 1,000 runs take about
    // a minute on an idle 2-core machine and several when it is shared, hence the test's own timeout.
  }, 600_000);

  it('refuses to finish a run that is not complete', async () => {
    const jobId = newJob();
    const { record } = await start(jobId, 'r');
    expect(() => ledger.finish(record, { status: 'succeeded' })).toThrow(
      `Expected \`record\` to be a complete run (isComplete), got "${jobId}/r"`,
    );
  });
});

describe('a change of status between the read and the finish', () => {
  it('a cancel that lands after a settler read the complete run wins: the run ends cancelled, not succeeded', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    const { record } = await ledger.settle({
      jobId,
      runId: 'r1',
      key: 'segment:0',
      delta: { submitted: 2, succeeded: 2 },
      manifestDone: true,
    });
    expect(record && isComplete(record)).toBe(true);
    const cancel = await ledger.setStatus(jobId, 'r1', {
      status: 'cancelled',
      reason: 'cancelled',
      from: ['running', 'paused'],
    });
    expect(cancel.changed).toBe(true); // the operator was told it was cancelled
    // The settler ends the run from the record it read before the cancel.
    expect(await ledger.finish(record!, finalStatus(record!))).toBeUndefined();
    const after = await afterSettle(record, { ledger });
    expect(after).toMatchObject({ finished: true, record: { status: 'cancelled', reason: 'cancelled' } });
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({
      status: 'cancelled',
      succeeded: 2,
      submitted: 2,
    });
    // Ended once: a second settler's afterSettle on the old record ends nothing.
    expect(await afterSettle(record, { ledger })).toMatchObject({ finished: false });
  });
});

describe('setStatus, setLimits, listRuns', () => {
  it('changes status only from the given statuses, bumping the version', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    const paused = await ledger.setStatus(jobId, 'r1', { status: 'paused', from: ['running'] });
    expect(paused).toMatchObject({ changed: true, record: { status: 'paused', version: 2 } });
    const again = await ledger.setStatus(jobId, 'r1', { status: 'paused', from: ['running'] });
    expect(again).toEqual({ changed: false, record: paused.record });
    const cancelled = await ledger.setStatus(jobId, 'r1', {
      status: 'cancelled',
      reason: 'cancelled',
      detail: 'by ops',
      from: ['running', 'paused'],
    });
    expect(cancelled.record).toMatchObject({
      status: 'cancelled',
      reason: 'cancelled',
      detail: 'by ops',
      version: 3,
    });
    expect(await ledger.setStatus(newJob(), 'r1', { status: 'paused', from: ['running'] })).toEqual({
      changed: false,
      record: undefined,
    });
  });

  it('a change that gives no reason keeps the run’s: a paused and resumed run whose manifest broke still fails', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    const broke = {
      status: 'running',
      reason: 'manifest-error',
      detail: 'line 9',
      from: ['running'],
    } as const;
    expect((await ledger.setStatus(jobId, 'r1', broke)).changed).toBe(true);
    await ledger.setStatus(jobId, 'r1', { status: 'paused', from: ['running'] });
    const resumed = await ledger.setStatus(jobId, 'r1', { status: 'running', from: ['paused'] });
    expect(resumed.record).toMatchObject({ status: 'running', reason: 'manifest-error', detail: 'line 9' });
    const { record } = await ledger.settle({
      jobId,
      runId: 'r1',
      key: 'segment:0',
      delta: { submitted: 1, succeeded: 1 },
      manifestDone: true,
    });
    expect(finalStatus(record!)).toEqual({ status: 'failed', reason: 'manifest-error' });
  });

  it('replaces the limits and bumps the version; undefined for no run, a stale version or an ended run', async () => {
    const jobId = newJob();
    await start(jobId, 'r1');
    const limits = { perInvocationConcurrency: 4, downstream: { api: { maxRequestsPerSecond: 5 } } };
    expect(await ledger.setLimits(jobId, 'r1', limits)).toMatchObject({ limits, version: 2 });
    expect(await ledger.setLimits(newJob(), 'r1', limits)).toBeUndefined();
    // At a version no longer the record's (another change landed since it was read): not written.
    expect(await ledger.setLimits(jobId, 'r1', { inlineConcurrency: 1 }, 1)).toBeUndefined();
    expect(await ledger.setLimits(jobId, 'r1', { inlineConcurrency: 1 }, 2)).toMatchObject({ version: 3 });
    const { record } = await ledger.settle({
      jobId,
      runId: 'r1',
      key: 'segment:0',
      delta: { submitted: 1, succeeded: 1 },
      manifestDone: true,
    });
    await ledger.finish(record!, finalStatus(record!));
    // An ended run's limits no longer apply, at its version or without one.
    expect(await ledger.setLimits(jobId, 'r1', limits, 4)).toBeUndefined();
    expect(await ledger.setLimits(jobId, 'r1', limits)).toBeUndefined();
    expect(await ledger.getRun(jobId, 'r1')).toMatchObject({ version: 4, limits: { inlineConcurrency: 1 } });
  });

  it('lists runs newest first, up to the limit', async () => {
    const jobId = newJob();
    const startedAt = [3, 1, 2];
    for (const [i, at] of startedAt.entries()) {
      await start(jobId, `r${i}`, { startedAt: at, overlap: 'allow' });
    }
    expect((await ledger.listRuns(jobId)).map((r) => r.runId)).toEqual(['r0', 'r2', 'r1']);
    expect((await ledger.listRuns(jobId, { limit: 2 })).map((r) => r.runId)).toEqual(['r0', 'r2']);
    expect(await ledger.listRuns(newJob())).toEqual([]);
  });
});
