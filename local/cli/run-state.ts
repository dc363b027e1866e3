// The run command's side of `--state DIR` / `--resume`: which manifest the run reads (a resume reads the one
// its directory names, refused when it changed since), and the directory claimed for it.
import type { RunArgs } from './args.js';
import { type JobSource, openJobSource } from './job-source.js';
import { openStateDir, readStateMarker, type StateDir } from './state-dir.js';
import { UsageError } from './usage-error.js';

export interface RunSource {
  readonly source: JobSource;
  readonly state?: StateDir;
}

export async function openRunSource(args: RunArgs): Promise<RunSource> {
  if (args.state === undefined) return { source: await openJobSource(args) };
  const held = args.resume ? await readStateMarker(args.state) : undefined;
  const source = await openJobSource(held ? { ...args, manifest: held.manifestFile ?? held.manifest } : args);
  try {
    if (held?.manifestSha256 !== undefined && held.manifestSha256 !== source.manifestSha256) {
      throw new UsageError(
        `--resume: the manifest ${held.manifest} changed since the run in --state ${args.state} started (SHA-256 ${held.manifestSha256}, now ${source.manifestSha256 ?? 'none'})`,
        { flag: '--resume', value: args.state },
      );
    }
    const state = await openStateDir(args.state, {
      resume: args.resume,
      manifest: source.label,
      ...(source.manifestFile ? { manifestFile: source.manifestFile } : {}),
      ...(source.manifestSha256 ? { manifestSha256: source.manifestSha256 } : {}),
    });
    return { source, state };
  } catch (error) {
    await source.close();
    throw error;
  }
}
