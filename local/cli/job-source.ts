// Where a run's tasks come from, made into an NDJSON file the local runtime can put in its bucket: a manifest
// file as it is, the built-in demo (generated against its own target server), or the dead-lettered tasks of an
// earlier run's report (`--retry-from`). An s3:// manifest is passed through by its URI.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildDemoManifest, type DemoManifest, defaultDemoTasks, toNdjson } from '../demo/manifest.js';
import { TargetServer } from '../demo/target-server.js';
import { readReport } from '../report/write.js';
import type { RunArgs } from './args.js';
import { checkManifestHeader } from './manifest-file.js';
import { UsageError } from './usage-error.js';

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
  const tasks = report.deadLetteredTasks;
  const missing = tasks.filter((t) => t.task === undefined).map((t) => t.id);
  if (missing.length > 0) {
    throw new UsageError(
      `--retry-from ${reportFile}: ${missing.length} dead-lettered task(s) have no task body in the report (first: ${missing[0]}); run them from the manifest instead`,
      { flag: '--retry-from', value: reportFile },
    );
  }
  if (report.deadLettered > tasks.length) {
    throw new UsageError(
      `--retry-from ${reportFile}: the report lists ${tasks.length} of its ${report.deadLettered} dead-lettered tasks; redrive the dead-letter queue instead`,
      { flag: '--retry-from', value: reportFile },
    );
  }
  if (tasks.length === 0) {
    throw new UsageError(`--retry-from ${reportFile}: no dead-lettered task to run again`, {
      flag: '--retry-from',
      value: reportFile,
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'bounded-fanout-retry-'));
  const file = join(dir, 'retry.ndjson');
  const lines = [
    JSON.stringify({ jobId: retryJobId(report.jobId) }),
    ...tasks.map((t) => JSON.stringify(t.task)),
  ];
  await writeFile(file, `${lines.join('\n')}\n`);
  return {
    label: `retry-from:${reportFile}`,
    file,
    objectName: 'retry.ndjson',
    allowHosts: [],
    total: tasks.length,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `job` -> `job-retry1`, `job-retry1` -> `job-retry2`. */
export function retryJobId(jobId: string): string {
  const match = /^(.*)-retry(\d+)$/.exec(jobId);
  const id = match ? `${match[1]}-retry${Number(match[2]) + 1}` : `${jobId}-retry1`;
  return id.slice(-128);
}
