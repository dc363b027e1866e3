// The barrier of one worker batch's settles (functions/batch-settles.ts) in front of the real store
// (JobLedgerTable on the backend's DynamoDB, the real SDK): a run's messages settle together once each of
// them is ready or gone, as one transaction (or as few as the store's group limit allows), each key counted
// once; a message that fails or throws never holds the others; two runs of one batch do not wait on each
// other. Messages are played the way the worker runs them: every one joins first, then works for a while
// (event-loop turns), then settles or not, and leaves in a `finally`.
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchMember, BatchSettles } from '../../functions/batch-settles.js';
import { JobLedgerTable } from '../../lib/aws/job-ledger-table.js';
import { MAX_GROUP } from '../../lib/aws/settle-groups.js';
import type { CountDelta, RunRecord } from '../../lib/ledger/run-record.js';
import { CommandCounter, freshJobTable } from '../local/fixtures/aws.js';

let client: DynamoDBClient;
let ledger: JobLedgerTable;
/** The DynamoDB commands sent, by name; its `onSend` is the test's hook into a command in flight. */
let commands: CommandCounter;

beforeAll(async () => {
  let tableName: string;
  ({ client, tableName } = await freshJobTable('batch'));
  commands = new CommandCounter(client);
  ledger = new JobLedgerTable(client, { tableName, retentionDays: 7 });
});
afterAll(() => client?.destroy());

const transactions = () => commands.sent.get('TransactWriteItemsCommand') ?? 0;

async function startedRun(): Promise<string> {
  const jobId = `job-${randomBytes(4).toString('hex')}`;
  await ledger.startRun({ jobId, runId: 'r', startedAt: 1, toleratedFailurePercent: 100, overlap: 'allow' });
  return jobId;
}

const Outcomes = { SETTLE: 'settle', FAIL: 'fail', THROW: 'throw' } as const;
type Outcome = (typeof Outcomes)[keyof typeof Outcomes];

interface Message {
  readonly jobId: string;
  readonly key: string;
  readonly delta: CountDelta;
  /** Event-loop turns its tasks take before it settles, fails or throws. */
  readonly turns: number;
  readonly outcome: Outcome;
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** What the messages of a batch did, and how many were ready or gone when each transaction was commands.sent. */
interface Played {
  readonly results: PromiseSettledResult<RunRecord | undefined | 'not settled'>[];
  readonly doneAtSend: number[];
}

/** One batch: every message joins, works, then settles or not, and leaves in a `finally` (as the worker). */
async function play(messages: readonly Message[]): Promise<Played> {
  const settles = new BatchSettles(async (input) => (await ledger.settle(input)).record);
  let done = 0;
  const doneAtSend: number[] = [];
  commands.onSend = (name) => {
    if (name === 'TransactWriteItemsCommand') doneAtSend.push(done);
  };
  const one = async (m: Message, member: BatchMember) => {
    try {
      await turns(m.turns);
      done++;
      if (m.outcome === Outcomes.THROW) throw new Error(`message ${m.key}: a task blew up`);
      if (m.outcome === Outcomes.FAIL) return 'not settled' as const;
      return await member.settle({ jobId: m.jobId, runId: 'r', key: m.key, delta: m.delta });
    } finally {
      member.leave();
    }
  };
  // Joined all at once, before any works: as the worker's batch() starts every record.
  const members = messages.map((m) => settles.join(m.jobId, 'r'));
  const results = await Promise.allSettled(messages.map((m, i) => one(m, members[i])));
  commands.onSend = () => {};
  return { results, doneAtSend };
}

const msg = (jobId: string, i: number, extra: Partial<Message> = {}): Message => ({
  jobId,
  key: `m${i}`,
  delta: { succeeded: i + 1 },
  turns: (i * 7) % 5,
  outcome: Outcomes.SETTLE,
  ...extra,
});

describe('batch settles: one transaction per run for a worker batch', () => {
  it('ten messages ready at different times settle as one transaction, sent once all ten are ready', async () => {
    const jobId = await startedRun();
    commands.sent.clear();
    const { results, doneAtSend } = await play(Array.from({ length: 10 }, (_, i) => msg(jobId, i)));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(transactions()).toBe(1);
    expect(doneAtSend).toEqual([10]);
    expect(await ledger.getRun(jobId, 'r')).toMatchObject({ succeeded: 55 });
  });

  it('messages that fail (never settle) do not hold the others, and add nothing; the last one to be done may be one', async () => {
    const jobId = await startedRun();
    commands.sent.clear();
    const messages = Array.from({ length: 10 }, (_, i) =>
      msg(jobId, i, {
        outcome: i % 3 === 0 ? Outcomes.FAIL : Outcomes.SETTLE,
        // m9 settles first, m0 (failing) is the last one done.
        turns: i === 0 ? 12 : 10 - i,
      }),
    );
    const { results, doneAtSend } = await play(messages);
    expect(results.map((r) => r.status === 'fulfilled' && r.value === 'not settled')).toEqual(
      messages.map((m) => m.outcome === Outcomes.FAIL),
    );
    expect(transactions()).toBe(1);
    expect(doneAtSend).toEqual([10]);
    // m1, m2, m4, m5, m7, m8: 2 + 3 + 5 + 6 + 8 + 9.
    expect(await ledger.getRun(jobId, 'r')).toMatchObject({ succeeded: 33 });
  });

  it('a message that throws leaves in its finally: the others settle, its own error stays its own', async () => {
    const jobId = await startedRun();
    commands.sent.clear();
    const messages = [
      msg(jobId, 0, { turns: 1 }),
      msg(jobId, 1, { turns: 6, outcome: Outcomes.THROW }),
      msg(jobId, 2, { turns: 2 }),
    ];
    const { results } = await play(messages);
    expect(results[1]).toMatchObject({
      status: 'rejected',
      reason: { message: 'message m1: a task blew up' },
    });
    expect(results[0].status).toBe('fulfilled');
    expect(results[2].status).toBe('fulfilled');
    expect(transactions()).toBe(1);
    expect(await ledger.getRun(jobId, 'r')).toMatchObject({ succeeded: 4 });
  });

  it('two runs in one batch: one transaction each, and neither waits for the other run’s messages', async () => {
    const [a, b] = [await startedRun(), await startedRun()];
    commands.sent.clear();
    // Run b's messages are all ready early; run a's later, its last one the slowest.
    const messages = [
      ...Array.from({ length: 6 }, (_, i) => msg(a, i, { turns: i === 5 ? 20 : 8 })),
      ...Array.from({ length: 4 }, (_, i) => msg(b, i, { turns: 1 })),
    ];
    const { doneAtSend } = await play(messages);
    expect(transactions()).toBe(2);
    // b's went as soon as its own four were done; a's when all ten were.
    expect(doneAtSend).toEqual([4, 10]);
    expect(await ledger.getRun(a, 'r')).toMatchObject({ succeeded: 21 });
    expect(await ledger.getRun(b, 'r')).toMatchObject({ succeeded: 10 });
  });

  it(`a batch of ${2 * MAX_GROUP + 3} messages of one run goes as 3 transactions (the group limit), each counted`, async () => {
    const jobId = await startedRun();
    commands.sent.clear();
    const n = 2 * MAX_GROUP + 3;
    await play(Array.from({ length: n }, (_, i) => msg(jobId, i, { delta: { succeeded: 1 } })));
    expect(transactions()).toBe(3);
    expect(await ledger.getRun(jobId, 'r')).toMatchObject({ succeeded: n });
  });

  it('a redelivered message in the batch is counted once: its key was settled by an earlier batch', async () => {
    const jobId = await startedRun();
    await play([msg(jobId, 0), msg(jobId, 1)]);
    const { results } = await play([msg(jobId, 1), msg(jobId, 2), msg(jobId, 1)]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    // m0: 1, m1: 2 (once), m2: 3.
    expect(await ledger.getRun(jobId, 'r')).toMatchObject({ succeeded: 6 });
  });

  it('refuses a settle for another run than the member joined, and a second settle of one member', async () => {
    const settles = new BatchSettles(async () => undefined);
    const member = settles.join('job', 'r1');
    await expect(member.settle({ jobId: 'job', runId: 'r2', key: 'k', delta: {} })).rejects.toThrow(
      /`input\.runId` to be run job\/r1, got "job\/r2"/,
    );
    await member.settle({ jobId: 'job', runId: 'r1', key: 'k', delta: {} });
    await expect(member.settle({ jobId: 'job', runId: 'r1', key: 'k', delta: {} })).rejects.toThrow(
      /`settle` to be a member that has not settled or left \(ready\), got "k"/,
    );
    expect(() => new BatchSettles(undefined as never)).toThrow(/settle/);
  });
});

describe('batch settles: property', () => {
  it('random batches with random failures, throws and duplicates end with exact ledger counts', async () => {
    // A message: its run (of 2), its key (of 12, so repeats within and across batches), when it is done, how.
    const messageArb = fc.record({
      run: fc.integer({ min: 0, max: 1 }),
      key: fc.integer({ min: 0, max: 11 }),
      turns: fc.integer({ min: 0, max: 6 }),
      outcome: fc.constantFrom<Outcome>(Outcomes.SETTLE, Outcomes.SETTLE, Outcomes.FAIL, Outcomes.THROW),
    });
    const batchesArb = fc.array(fc.array(messageArb, { minLength: 1, maxLength: 12 }), {
      minLength: 1,
      maxLength: 4,
    });
    await fc.assert(
      fc.asyncProperty(batchesArb, async (batches) => {
        const runs = [await startedRun(), await startedRun()];
        // A key's counts are the same at every delivery (the same message), and tell keys apart.
        const deltaOf = (key: number): CountDelta => ({ succeeded: 2 ** key });
        const settledKeys = runs.map(() => new Set<number>());
        for (const batch of batches) {
          const messages = batch.map(
            (m): Message => ({
              jobId: runs[m.run],
              key: `k${m.key}`,
              delta: deltaOf(m.key),
              turns: m.turns,
              outcome: m.outcome,
            }),
          );
          const { results } = await play(messages);
          batch.forEach((m, i) => {
            const r = results[i];
            if (m.outcome === Outcomes.THROW) expect(r.status).toBe('rejected');
            else expect(r.status).toBe('fulfilled');
            if (m.outcome === Outcomes.SETTLE) settledKeys[m.run].add(m.key);
          });
        }
        for (const [i, jobId] of runs.entries()) {
          const expected = [...settledKeys[i]].reduce((sum, key) => sum + 2 ** key, 0);
          const record = await ledger.getRun(jobId, 'r');
          expect(record?.succeeded ?? 0).toBe(expected);
        }
      }),
      { numRuns: 25 },
    );
  });
});
