// Where a run's tasks come from, made into an NDJSON file the local runtime can put in its bucket: a manifest
// file as it is, the built-in demo (generated against its own target server), or the dead-lettered and
// unfinished tasks of an earlier run's report (`--retry-from`). An s3:// manifest is passed through by its URI.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildDemoManifest, type DemoManifest, defaultDemoTasks, toNdjson } from '../demo/manifest.js';
import { TargetServer } from '../demo/target-server.js';
import type { RunArgs } from './args.js';
import { checkManifestHeader } from './manifest-file.js';
import { manifestIdentity, openRetrySource } from './retry-from.js';
import { UsageError } from './usage-error.js';

export { retryJobId, retryTasks } from './retry-from.js';

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
  /** The manifest file the tasks are read from and its SHA-256, for the report (`--retry-from` needs them). */
  readonly manifestFile?: string;
  readonly manifestSha256?: string;
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
      ...(await manifestIdentity(args.manifest)),
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
  const retry = await openRetrySource(reportFile);
  return {
    label: `retry-from:${reportFile}`,
    file: retry.file,
    objectName: 'retry.ndjson',
    allowHosts: [],
    total: retry.total,
    manifestFile: retry.manifestFile,
    manifestSha256: retry.manifestSha256,
    close: retry.close,
  };
}
