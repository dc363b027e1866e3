// `run --retry-from`: which tasks a report gives to run again, and the retry's job id.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JobIdSchema } from '../../../lib/manifest/schema.js';
import { retryJobId, retryTasks } from '../../../local/cli/job-source.js';
import { fixtureReport } from '../report/fixture.js';

const task = (id: string) => ({ id, url: `https://example.com/${id}` });

describe('retryJobId', () => {
  it('is a valid job id of at most 128 characters for every valid job id, numbering the retries', () => {
    const head = fc.constantFrom(...'Aa9z');
    const rest = fc.string({ unit: fc.constantFrom(...'a0._:-'), maxLength: 127 });
    // Long ids (near the 128-character limit) as often as short ones, and ids already ending in -retryN.
    const jobId = fc
      .tuple(
        head,
        fc.oneof(
          rest,
          rest.map((r) => r.padEnd(127, '-')),
        ),
        fc.option(fc.nat(99)),
      )
      .map(([h, r, n]) => {
        const id = `${h}${r}`.slice(0, 128);
        return n === null ? id : `${id.slice(0, 128 - `-retry${n}`.length)}-retry${n}`;
      });
    fc.assert(
      fc.property(jobId, (id) => {
        const retry = retryJobId(id);
        expect(JobIdSchema.safeParse(retry).success).toBe(true);
        expect(retry.length).toBeLessThanOrEqual(128);
        const n = /-retry(\d+)$/.exec(id);
        expect(retry).toMatch(new RegExp(`-retry${n ? Number(n[1]) + 1 : 1}$`));
      }),
      { numRuns: 500 },
    );
  });

  it('cuts a long id before the suffix, not its head', () => {
    const long = `${'a'.repeat(120)}-b.c:d_e`;
    expect(retryJobId(long)).toBe(`${'a'.repeat(120)}--retry1`);
    expect(retryJobId(`${'b'.repeat(121)}-retry9`)).toBe(`${'b'.repeat(120)}-retry10`);
  });
});

describe('retryTasks', () => {
  it('gives every dead-lettered and unfinished task, each id once', () => {
    const report = fixtureReport({
      deadLettered: 3,
      deadLetteredTasks: ['a', 'b', 'a'].map((id) => ({ id, attempts: 1, error: 'x', task: task(id) })),
      unfinished: 2,
      unfinishedTasks: ['c', 'd'].map((id) => ({ id, error: 'not finished', task: task(id) })),
    });
    expect(retryTasks(report, 'r.json')).toEqual(['a', 'b', 'c', 'd'].map(task));
  });

  it('refuses a report that lists fewer unfinished tasks than it counts, or a task without its body', () => {
    const short = fixtureReport({
      deadLettered: 0,
      deadLetteredTasks: [],
      unfinished: 3,
      unfinishedTasks: [{ id: 'c', error: 'not finished', task: task('c') }],
    });
    expect(() => retryTasks(short, 'r.json')).toThrow(
      '--retry-from r.json: the report lists 1 of its 3 unfinished tasks',
    );
    const bodiless = fixtureReport({
      deadLettered: 0,
      deadLetteredTasks: [],
      unfinished: 1,
      unfinishedTasks: [{ id: 'c', error: 'not finished' }],
    });
    expect(() => retryTasks(bodiless, 'r.json')).toThrow(
      '--retry-from r.json: 1 task(s) have no task body in the report (first: c); run them from the manifest instead',
    );
  });
});
