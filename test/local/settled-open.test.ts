// local/settled-open.ts sorts a killed run's open messages by the job ledger, on a real table. The accounting
// rule, as a property over any journal a kill can leave: messages settled or not, each settled one with any
// plan (tasks retried, handed on, dead-lettered), each of its follow-ups not sent, open and unsettled, open and
// settled, closed and settled, or closed unsettled (a follow-up an earlier resume closed for its parent's later
// receive), its dead letters counted or not, a plain message or a redrive:
// - none lost: each follow-up of a settled message is settled, put back itself, or sent by its parent's later
//   receive; its dead letters are counted, or the parent goes back for them;
// - none twice: a follow-up its parent's later receive sends again is not put back beside it;
// - none back for nothing: a plain settled message whose follow-ups are all open or settled and whose dead
//   letters are counted is closed, not sent back.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handedKey } from '../../functions/worker-follow-ups.js';
import { type FollowUpPlan, keptPlan, PLAN_VERSION } from '../../lib/fanout/follow-up-plan.js';
import { MESSAGE_VERSION, MessageKinds, type TaskMessage } from '../../lib/fanout/messages.js';
import { followUpsOf } from '../../lib/fanout/settle.js';
import { settleKey } from '../../lib/ledger/ledger-keys.js';
import type { OpenMessage } from '../../local/queue-journal.js';
import { sortOpen } from '../../local/settled-open.js';
import { freshJobTable } from './fixtures/aws.js';

const FATES = ['ok', 'retry', 'handOn', 'dead'] as const;
const FOLLOW_UP = ['unsent', 'open', 'openSettled', 'closedSettled', 'closedUnsettled'] as const;

let client: DynamoDBClient;
let tableName: string;
let runs = 0;

beforeAll(async () => {
  ({ client, tableName } = await freshJobTable('settled-open'));
});

afterAll(() => client?.destroy());

const parent = fc.record({
  settled: fc.boolean(),
  redrive: fc.boolean(),
  fates: fc.array(fc.constantFrom(...FATES), { minLength: 1, maxLength: 4 }),
  followUps: fc.tuple(fc.constantFrom(...FOLLOW_UP), fc.constantFrom(...FOLLOW_UP)),
  handed: fc.boolean(),
});

type Parent = typeof parent extends fc.Arbitrary<infer T> ? T : never;

/** A parent message's kept plan, by its tasks' fates. */
function planOf(fates: Parent['fates']): FollowUpPlan {
  const at = (fate: string) => fates.flatMap((f, i) => (f === fate ? [i] : []));
  const dead = at('dead').map((i) => ({ i, attempts: 1, error: 'status 400' }));
  return { v: PLAN_VERSION, retry: at('retry'), handOn: at('handOn'), dead };
}

describe('sortOpen', () => {
  it('loses no follow-up, puts none back twice, and sends back only what owes something', async () => {
    const doc = DynamoDBDocumentClient.from(client);
    await fc.assert(
      fc.asyncProperty(fc.array(parent, { minLength: 1, maxLength: 4 }), async (parents) => {
        const jobId = `j${runs++}`;
        const runId = 'r';
        const mark = (key: string, state?: unknown) =>
          doc.send(
            new PutCommand({ TableName: tableName, Item: { ...settleKey(jobId, runId, key), state } }),
          );
        const open: OpenMessage[] = [];
        const cases = [];
        for (const [n, p] of parents.entries()) {
          const message: TaskMessage = {
            v: MESSAGE_VERSION,
            kind: MessageKinds.TASKS,
            jobId,
            runId,
            key: `k${n}`,
            attempt: 1,
            ...(p.redrive ? { redrive: true as const } : {}),
            tasks: p.fates.map((_, i) => ({ id: `t${n}-${i}`, url: 'http://127.0.0.1/x', mode: 'queue' })),
          };
          open.push({ id: `m${n}`, body: JSON.stringify(message) });
          const plan = planOf(p.fates);
          const { retries, handedOn } = followUpsOf(message, plan);
          const followUps = [...retries, ...handedOn].map((f, i) => ({ f, state: p.followUps[i % 2] }));
          if (p.settled) {
            await mark(message.key, keptPlan(plan));
            if (p.handed) await mark(handedKey(message.key));
            for (const { f, state } of followUps) {
              if (state.endsWith('Settled') && state !== 'closedUnsettled') await mark(f.message.key);
              if (state.startsWith('open'))
                open.push({ id: `f-${f.message.key}`, body: JSON.stringify(f.message) });
            }
          }
          cases.push({ p, message, plan, followUps });
        }
        const sorted = await sortOpen(
          { db: client, jobTable: tableName, runOf: async () => undefined },
          open,
        );
        const ids = (list: readonly OpenMessage[]) => new Set(list.map((m) => m.id));
        const [unsettled, done, toHandOn, superseded] = [
          ids(sorted.unsettled),
          ids(sorted.done),
          ids(sorted.toHandOn),
          ids(sorted.superseded),
        ];
        for (const m of open)
          expect([unsettled.has(m.id), done.has(m.id), toHandOn.has(m.id)].filter(Boolean)).toHaveLength(1);
        for (const id of superseded) expect(unsettled.has(id)).toBe(true);
        for (const [n, { p, plan, followUps }] of cases.entries()) {
          const id = `m${n}`;
          if (!p.settled) {
            expect(unsettled.has(id)).toBe(true);
            continue;
          }
          const back = toHandOn.has(id);
          const owed = plan.dead.length > 0 && !p.handed;
          for (const { f, state } of followUps) {
            const fid = `f-${f.message.key}`;
            const settled = state === 'openSettled' || state === 'closedSettled';
            const putBack = state.startsWith('open') && !superseded.has(fid);
            // None lost: settled, put back itself, or sent by the parent's later receive.
            expect(settled || putBack || back).toBe(true);
            // None twice: an unsettled one the parent's later receive sends is not put back too.
            if (back && state === 'open') expect(superseded.has(fid)).toBe(true);
            if (state === 'unsent' || state === 'closedUnsettled') expect(back).toBe(true);
          }
          if (owed || p.redrive) expect(back).toBe(true);
          // None back for nothing.
          const allOut = followUps.every(({ state }) => state !== 'unsent' && state !== 'closedUnsettled');
          if (!owed && !p.redrive && allOut) expect(done.has(id)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
