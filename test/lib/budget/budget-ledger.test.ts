// The job ledger's line in the plan's cost table: write and read units on the job table and the Run Finished
// events, per million queued tasks, from the published prices in lib/budget/prices.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ledgerCost } from '../../../lib/budget/budget-ledger.js';
import { formatBudgetTable } from '../../../lib/budget/budget-table.js';
import { planBudget } from '../../../lib/budget/index.js';
import { awsPrices } from '../../../lib/budget/prices.js';
import { defaultConfig } from '../../../lib/config.js';
import { RUNS } from '../../helpers/runs.js';

describe('the job ledger in the plan', () => {
  it('prices the default config: 40,000 messages, 1 segment, 1 run, 6,400 worker-seconds busy', () => {
    const plan = planBudget(defaultConfig, { tasks: 1_000_000, latencyMs: 100 });
    const l = plan.cost.ledger;
    // 1,000,000 tasks / 25 a message; 4,000 invocations x 1.6 s (10 x 25 tasks, 16 at once: 16 x 100 ms).
    expect(l).toMatchObject({ runs: 1, messages: 40_000, segments: 1, workerBusySeconds: 6_400, events: 1 });
    // A 2-item transaction per settle (4 units) + 7 per run (a 2-item start, a conditional finish, announcedAt,
    // the run's origin)
    // + the segment's heartbeat: one as it starts, one per 15 s it runs (it runs under 15 s here).
    expect(l.beats).toBe(1);
    expect(l.writeUnits).toBe(4 * 40_001 + 7 + 1);
    // One strongly consistent read per settle, one Query per run, one read per 2 s of a busy worker.
    expect(l.readUnits).toBe(40_001 + 1 + 3_200);
    expect(l.writeUsd).toBeCloseTo(0.1000075, 12); // 160,012 x $0.625 / M
    expect(l.readUsd).toBeCloseTo(0.00540025, 12); // 43,202 x $0.125 / M
    expect(l.eventsUsd).toBeCloseTo(0.000001, 12); // 1 x $1.00 / M
    expect(l.usd).toBeCloseTo(0.10540875, 12);

    const lines = formatBudgetTable(plan).split('\n');
    const line = (item: string) => lines.find((text) => text.trimStart().startsWith(item));
    expect(line('Job ledger writes')).toMatch(
      /^ {2}Job ledger writes\s+160,012\s+4 x \(40,000 messages \+ 1 segment\) \+ 7 x 1 run \+ 1 heartbeat: settles are 2-item transactions\s+0\.1000$/,
    );
    expect(line('Job ledger reads')).toMatch(
      /^ {2}Job ledger reads\s+43,202\s+40,001 settles \+ 1 run \+ worker 6,400 s busy \/ 2 s cache\s+0\.0054$/,
    );
    expect(line('EventBridge events')).toMatch(
      /^ {2}EventBridge events\s+1\s+Run Finished, one per run, default bus\s+0\.0000$/,
    );
  });

  it('counts a run per job of the plan: 1,000 jobs of 1,000 tasks put 1,000 events per million tasks', () => {
    const l = planBudget(defaultConfig, { tasks: 1_000, latencyMs: 100 }).cost.ledger;
    expect(l.runs).toBe(1_000);
    expect(l.events).toBe(1_000);
    expect(l.eventsUsd).toBeCloseTo(0.001, 12);
    expect(l.writeUnits).toBe(4 * (40_000 + l.segments) + 7 * 1_000 + l.beats);
  });

  it('is never per task: units grow with messages, segments, runs and busy seconds only', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 100, max: 20_000 }),
        (messages, segments, runs, workerBusySeconds, orchestratorBusySeconds, heartbeatMs) => {
          const l = ledgerCost({
            runs,
            messages,
            segments,
            workerBusySeconds,
            orchestratorBusySeconds,
            heartbeatMs,
          });
          // A beat as each segment starts, then one every heartbeatMs it runs.
          expect(l.beats).toBe(segments + Math.floor((orchestratorBusySeconds * 1000) / heartbeatMs));
          expect(l.writeUnits).toBe(4 * (messages + segments) + 7 * runs + l.beats);
          expect(l.readUnits).toBe(messages + segments + runs + workerBusySeconds / 2);
          expect(l.events).toBe(runs);
          const { dynamodb, eventbridge } = awsPrices;
          const usd =
            (l.writeUnits * dynamodb.usdPerMillionWriteUnits +
              l.readUnits * dynamodb.usdPerMillionReadUnits +
              runs * eventbridge.usdPerMillionEvents) /
            1_000_000;
          expect(l.usd).toBeCloseTo(usd, 9);
          expect(l.usd).toBeCloseTo(l.writeUsd + l.readUsd + l.eventsUsd, 12);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
