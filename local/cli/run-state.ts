// The run command's side of `--state DIR` / `--resume`: which manifest the run reads (a resume reads the one
// its directory names, refused when it changed since), and the directory claimed for it.
import { QueueJournal } from '../queue-journal.js';
import type { RunLocalJobOptions } from '../run-local-job.js';
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
      flags: args.runFlags ?? [],
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

/** runLocalJob's `state` option: the journal, and for a resume what the killed run left. */
export function stateOption(state: StateDir): NonNullable<RunLocalJobOptions['state']> {
  const journal = new QueueJournal(state.dir);
  if (!state.resumed) return { journal };
  const left = journal.read();
  // Killed inside the orchestrator's first segment: the resume runs it again, under the request id journaled
  // as it started (the same run), a copy of it (local/segment-reread.ts). Killed before that line, it had sent
  // nothing: the resume runs it as it would have. A journal with sends and neither line is of an earlier
  // version, which journaled no start: its request id, so its run, is not known.
  if (left.first === undefined) {
    if (left.started === undefined && left.keys.size > 0) refuse(state, 'no result');
    return { journal, resume: left };
  }
  // The orchestrator's results name the run and its counts; a chain of them with no end (continuations none of
  // which read to the manifest's end) left a manifest partly read: the resume runs again the continuations
  // accepted and never ended (killed running, or held by a stop), each a copy of its segment. A journal of an
  // earlier version kept no continuation's event: then no resume is guessed at.
  const results = [left.first.result, ...left.continuations.map((c) => c.result)];
  const statuses = results.map((r) => (r as { status?: string } | undefined)?.status);
  const read = statuses.some((s) => s !== undefined && s !== 'continued' && s !== 'duplicate');
  if (!read && left.unended.length === 0) refuse(state, statuses.at(-1) ?? 'no result');
  return { journal, resume: left };
}

function refuse(state: StateDir, status: string): never {
  throw new UsageError(
    `--resume: the run in --state ${state.dir} was killed before its orchestrator had read the whole manifest (${status}): it cannot be resumed; start a new run in an empty directory`,
    { flag: '--resume', value: state.dir },
  );
}
