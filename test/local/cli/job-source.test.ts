// `run --retry-from`: which tasks a report gives to run again (taken whole from its manifest), and the retry's job id.
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobIdSchema } from '../../../lib/manifest/schema.js';
import { retryJobId, retryTasks } from '../../../local/cli/job-source.js';
import { type ManifestIdentity, manifestIdentity } from '../../../local/cli/retry-from.js';
import { fixtureReport } from '../report/fixture.js';

const task = (id: string) => ({
  id,
  url: `https://example.com/${id}`,
  headers: { authorization: `Bearer s-${id}` },
});

describe('retryJobId', () => {
  it('is a valid job id of at most 128 characters for every valid job id, numbering the retries', () => {
    const head = fc.constantFrom(...'Aa9z');
    const rest = fc.string({ unit: fc.constantFrom(...'a0._-'), maxLength: 127 });
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
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bf-retry-tasks-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** A manifest file of tasks a..e (their secret header whole) and what a report records of it. */
  async function manifest(name: string): Promise<ManifestIdentity> {
    const file = join(dir, `${name}.ndjson`);
    const lines = [{ jobId: 'j' }, ...['a', 'b', 'c', 'd', 'e'].map(task)].map((l) => JSON.stringify(l));
    await writeFile(file, `${lines.join('\n')}\n`);
    return manifestIdentity(file);
  }

  it('gives every dead-lettered and unfinished task, each id once, whole from the manifest, not the report', async () => {
    const identity = await manifest('whole');
    const shown = (id: string) => ({ ...task(id), headers: { authorization: '[REDACTED]' } });
    const report = fixtureReport({
      ...identity,
      deadLettered: 3,
      deadLetteredTasks: ['a', 'b', 'a'].map((id) => ({ id, attempts: 1, error: 'x', task: shown(id) })),
      unfinished: 2,
      unfinishedTasks: ['d', 'c'].map((id) => ({ id, error: 'not finished', task: shown(id) })),
    });
    expect(await retryTasks(report, 'r.json')).toEqual(
      ['a', 'b', 'd', 'c'].map((id) => ({ ...task(id), mode: 'queue' })),
    );
  });

  it('refuses a report that lists fewer unfinished tasks than it counts', async () => {
    const short = fixtureReport({
      ...(await manifest('short')),
      deadLettered: 0,
      deadLetteredTasks: [],
      unfinished: 3,
      unfinishedTasks: [{ id: 'c', error: 'not finished' }],
    });
    await expect(retryTasks(short, 'r.json')).rejects.toThrow(
      '--retry-from r.json: the report lists 1 of its 3 unfinished tasks',
    );
  });

  it('refuses a report naming no manifest, a manifest changed since, or ids it does not hold', async () => {
    const failed = { deadLettered: 1, deadLetteredTasks: [{ id: 'c', attempts: 1, error: 'x' }] };
    await expect(retryTasks(fixtureReport({ ...failed, manifest: 'demo' }), 'r.json')).rejects.toThrow(
      '--retry-from r.json: the report names no manifest file to take its tasks from (its tasks came from demo); run them with --manifest',
    );
    const identity = await manifest('changed');
    await appendFile(identity.manifestFile, `${JSON.stringify(task('f'))}\n`);
    const now = await manifestIdentity(identity.manifestFile);
    await expect(retryTasks(fixtureReport({ ...failed, ...identity }), 'r.json')).rejects.toThrow(
      `--retry-from r.json: its manifest "${identity.manifestFile}" has changed since the run (SHA-256 ${now.manifestSha256}, the report says ${identity.manifestSha256}); run the tasks with --manifest`,
    );
    const unknown = { deadLettered: 1, deadLetteredTasks: [{ id: 'zz', attempts: 1, error: 'x' }] };
    await expect(retryTasks(fixtureReport({ ...unknown, ...now }), 'r.json')).rejects.toThrow(
      `--retry-from r.json: 1 task(s) are not valid tasks of "${identity.manifestFile}" (first: zz)`,
    );
  });
});
