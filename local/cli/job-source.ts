// Where a run's tasks come from, made into an NDJSON file the local runtime can put in its bucket: a manifest
// file as it is, the built-in demo (generated against its own target server), or the dead-lettered and
// unfinished tasks of an earlier run's report (`--retry-from`). An s3:// manifest is passed through by its URI.
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildDemoManifest, type DemoManifest, defaultDemoTasks, toNdjson } from '../demo/manifest.js';
import { TargetServer } from '../demo/target-server.js';
import type { RunReport } from '../report/types.js';
import { readReport } from '../report/write.js';
import type { RunArgs } from './args.js';
import { checkManifestHeader } from './manifest-file.js';
import { UsageError } from './usage-error.js';

/** lib/manifest/schema.ts JobIdSchema's maximum. */
const MAX_JOB_ID_LENGTH = 128;

export interface JobSource {
  /** What the report calls it: the file, the s3:// URI, `demo` or `retry-from:FILE`. */
  readonly label: string;
  /** A local NDJSON or JSON file to upload, or an s3:// URI to read as it is. */
  readonly file?: string;
  readonly uri?: string;
  /** Object name in the bucket (under the manifests prefix). */
  readonly objectName: string;
  /** Hosts the run must let through the destination guard (the demo's own loopback server). */
  readonly allowHosts: readonly string[];
  /** Tasks expected in all, when known in advance (for the progress display). */
  readonly total?: number;
  readonly demo?: { readonly server: TargetServer; readonly manifest: DemoManifest };
  /** Stops the demo server and removes temporary files. */
  close(): Promise<void>;
}

export async function openJobSource(args: RunArgs): Promise<JobSource> {
  if (args.retryFrom !== undefined) return retrySource(args.retryFrom);
  if (args.manifest?.startsWith('s3://')) {
    if (args.endpoint === undefined) {
      throw new UsageError(
        '--manifest s3://...: the embedded S3 starts empty; give a local file, or --endpoint where the object is',
        { flag: '--manifest', value: args.manifest },
      );
    }
    return {
      label: args.manifest,
      uri: args.manifest,
      objectName: '',
      allowHosts: [],
      close: async () => {},
    };
  }
  if (args.manifest !== undefined) {
    // A bad header is refused here, before any emulator starts (the orchestrator would refuse it too).
    await checkManifestHeader(args.manifest);
    return {
      label: args.manifest,
      file: args.manifest,
      objectName: basename(args.manifest),
      allowHosts: [],
      close: async () => {},
    };
  }
  return demoSource(args.demoTasks ?? defaultDemoTasks);
}

async function demoSource(tasks: number): Promise<JobSource> {
  const server = await TargetServer.start();
  const dir = await mkdtemp(join(tmpdir(), 'bounded-fanout-demo-'));
  try {
    const manifest = buildDemoManifest({ baseUrl: server.url, tasks, jobId: 'demo' });
    const file = join(dir, 'demo.ndjson');
    await writeFile(file, toNdjson(manifest));
    return {
      label: 'demo',
      file,
      objectName: 'demo.ndjson',
      // The demo's target is on loopback, which the destination guard refuses unless allowed: its port only.
      allowHosts: [`127.0.0.1:${new URL(server.url).port}`],
      total: manifest.expected.submitted,
      demo: { server, manifest },
      close: async () => {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function retrySource(reportFile: string): Promise<JobSource> {
  const report = await readReport(reportFile);
  const tasks = retryTasks(report, reportFile);
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
    label: `retry-from:${reportFile}`,
    file,
    objectName: 'retry.ndjson',
    allowHosts: [],
    total: tasks.length,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * The tasks to run again: every dead-lettered and every unfinished task of the report, each id once. The report
 * must list all it counts, each with its task, or the retry would silently leave some out.
 */
export function retryTasks(report: RunReport, reportFile: string): object[] {
  const refuse = (message: string) =>
    new UsageError(`--retry-from ${reportFile}: ${message}`, { flag: '--retry-from', value: reportFile });
  const listed = [...report.deadLetteredTasks, ...(report.unfinishedTasks ?? [])];
  const missing = listed.filter((t) => t.task === undefined).map((t) => t.id);
  if (missing.length > 0) {
    throw refuse(
      `${missing.length} task(s) have no task body in the report (first: ${missing[0]}); run them from the manifest instead`,
    );
  }
  if (report.deadLettered > report.deadLetteredTasks.length) {
    throw refuse(
      `the report lists ${report.deadLetteredTasks.length} of its ${report.deadLettered} dead-lettered tasks; redrive the dead-letter queue instead`,
    );
  }
  const unfinished = report.unfinishedTasks?.length ?? 0;
  if ((report.unfinished ?? 0) > unfinished) {
    throw refuse(`the report lists ${unfinished} of its ${report.unfinished} unfinished tasks`);
  }
  const seen = new Set<string>();
  const tasks: object[] = [];
  for (const t of listed) {
    if (seen.has(t.id)) continue; // a task dead-lettered twice runs once
    seen.add(t.id);
    tasks.push(t.task as object);
  }
  if (tasks.length === 0) throw refuse('no dead-lettered or unfinished task to run again');
  return tasks;
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
