// `run --retry-from REPORT.json`: the dead-lettered and unfinished tasks of an earlier run, taken back by id from
// the manifest that run read. The report shows tasks redacted (no secret leaves a run), so it cannot be the
// source: it names the manifest file and its SHA-256, and a manifest changed since is refused, not guessed at.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { JobTask } from '../../lib/manifest/schema.js';
import type { RunReport } from '../report/types.js';
import { readReport } from '../report/write.js';
import { openManifestFile } from './manifest-file.js';
import { UsageError } from './usage-error.js';

/** lib/manifest/schema.ts JobIdSchema's maximum. */
const MAX_JOB_ID_LENGTH = 128;

/** The manifest file a report names, as it names it: its absolute path and the SHA-256 of its bytes. */
export interface ManifestIdentity {
  readonly manifestFile: string;
  readonly manifestSha256: string;
}

export async function manifestIdentity(file: string): Promise<ManifestIdentity> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { manifestFile: resolve(file), manifestSha256: hash.digest('hex') };
}

export interface RetrySource extends ManifestIdentity {
  readonly file: string;
  readonly total: number;
  close(): Promise<void>;
}

/** The retry's manifest: a temporary NDJSON file of the tasks to run again, under the next retry job id. */
export async function openRetrySource(reportFile: string): Promise<RetrySource> {
  const report = await readReport(reportFile);
  const tasks = await retryTasks(report, reportFile);
  const dir = await mkdtemp(join(tmpdir(), 'bounded-fanout-retry-'));
  const file = join(dir, 'retry.ndjson');
  const out = await open(file, 'w');
  try {
    await out.write(`${JSON.stringify({ jobId: retryJobId(report.jobId) })}\n`);
    for (let i = 0; i < tasks.length; i += 1_000) {
      await out.write(
        `${tasks
          .slice(i, i + 1_000)
          .map((t) => JSON.stringify(t))
          .join('\n')}\n`,
      );
    }
  } finally {
    await out.close();
  }
  return {
    file,
    total: tasks.length,
    // A retry's own report names the same manifest, so a retry of a retry finds its tasks there too.
    manifestFile: report.manifestFile as string,
    manifestSha256: report.manifestSha256 as string,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * The tasks to run again: every dead-lettered and unfinished task of the report, each id once, in the report's
 * order, read from the manifest the report names. The report must list all it counts, or the retry would
 * silently leave some out.
 */
export async function retryTasks(report: RunReport, reportFile: string): Promise<JobTask[]> {
  const refuse = (message: string) =>
    new UsageError(`--retry-from ${reportFile}: ${message}`, { flag: '--retry-from', value: reportFile });
  if (report.deadLettered > report.deadLetteredTasks.length) {
    throw refuse(
      `the report lists ${report.deadLetteredTasks.length} of its ${report.deadLettered} dead-lettered tasks; redrive the dead-letter queue instead`,
    );
  }
  const unfinished = report.unfinishedTasks?.length ?? 0;
  if ((report.unfinished ?? 0) > unfinished) {
    throw refuse(`the report lists ${unfinished} of its ${report.unfinished} unfinished tasks`);
  }
  const ids = [...new Set([...report.deadLetteredTasks, ...(report.unfinishedTasks ?? [])].map((t) => t.id))];
  if (ids.length === 0) throw refuse('no dead-lettered or unfinished task to run again');
  const { manifestFile, manifestSha256 } = report;
  if (!manifestFile || !manifestSha256) {
    throw refuse(
      `the report names no manifest file to take its tasks from (its tasks came from ${report.manifest ?? 'an unnamed source'}); run them with --manifest`,
    );
  }
  let now: ManifestIdentity;
  try {
    now = await manifestIdentity(manifestFile);
  } catch (error) {
    throw refuse(`its manifest ${JSON.stringify(manifestFile)} cannot be read: ${(error as Error).message}`);
  }
  if (now.manifestSha256 !== manifestSha256) {
    throw refuse(
      `its manifest ${JSON.stringify(manifestFile)} has changed since the run (SHA-256 ${now.manifestSha256}, the report says ${manifestSha256}); run the tasks with --manifest`,
    );
  }
  const found = await tasksById(manifestFile, new Set(ids));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw refuse(
      `${missing.length} task(s) are not valid tasks of ${JSON.stringify(manifestFile)} (first: ${missing[0]})`,
    );
  }
  return ids.map((id) => found.get(id) as JobTask);
}

/** One pass over the manifest, keeping the first valid task of each id sought. */
async function tasksById(file: string, wanted: ReadonlySet<string>): Promise<Map<string, JobTask>> {
  const found = new Map<string, JobTask>();
  const manifest = await openManifestFile(file, 'manifest');
  for await (const item of manifest.items) {
    if (item.ok && wanted.has(item.task.id) && !found.has(item.task.id)) found.set(item.task.id, item.task);
  }
  return found;
}

/**
 * `job` -> `job-retry1`, `job-retry1` -> `job-retry2`. A job id is at most 128 characters: a long one is cut
 * before the suffix, so the result is still a valid job id (lib/manifest/schema.ts JobIdSchema).
 */
export function retryJobId(jobId: string): string {
  const match = /^(.*)-retry(\d+)$/.exec(jobId);
  const base = match ? match[1] : jobId;
  const suffix = `-retry${match ? Number(match[2]) + 1 : 1}`;
  return `${base.slice(0, MAX_JOB_ID_LENGTH - suffix.length)}${suffix}`;
}
