// `run --state DIR`: the directory that keeps a local run's data on disk, so a run killed (kill -9, a crash, a
// power cut) can be finished with `run --state DIR --resume`. It holds a marker file naming the run (which job,
// which manifest file and its SHA-256), dynalite's LevelDB store (the job ledger and the idempotency records)
// and the runtime's journal of the queue (local/queue-journal.ts). A directory is taken for a new run only when
// it is empty or missing; one that holds another run is refused, as is one that is not a state directory.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from './usage-error.js';

export const STATE_MARKER = 'bounded-fanout-state.json';
const FORMAT = 'bounded-fanout-state/1';

/** What the marker file says about the run the directory holds. */
export interface StateMarker {
  readonly format: typeof FORMAT;
  /** The manifest as given on the command line (what the report calls it). */
  readonly manifest: string;
  readonly manifestFile?: string;
  readonly manifestSha256?: string;
  readonly startedAt: string;
}

export interface StateDir {
  readonly dir: string;
  /** dynalite's LevelDB store. */
  readonly dynamoPath: string;
  readonly marker: StateMarker;
  /** True when the directory held a run already (`--resume`). */
  readonly resumed: boolean;
}

export interface OpenStateDirOptions {
  readonly resume: boolean;
  /** The run asked for now: a new run names its manifest, a resume takes the directory's. */
  readonly manifest?: string;
  readonly manifestFile?: string;
  readonly manifestSha256?: string;
}

/** Checks DIR against what is asked (a new run, or a resume) and claims it; never overwrites another run. */
export async function openStateDir(dir: string, options: OpenStateDirOptions): Promise<StateDir> {
  const root = resolve(dir);
  const entries = await listDir(root);
  const held = entries === undefined ? undefined : await readMarker(root, entries);
  if (options.resume) {
    if (held === undefined) {
      throw new UsageError(`--state ${dir}: no run to resume there (no ${STATE_MARKER})`, {
        flag: '--resume',
        value: dir,
      });
    }
    return { dir: root, dynamoPath: join(root, 'dynamo'), marker: held, resumed: true };
  }
  if (held !== undefined) {
    throw new UsageError(
      `--state ${dir} holds a run of ${held.manifest} already: add --resume to finish it, or give an empty directory`,
      { flag: '--state', value: dir },
    );
  }
  const marker: StateMarker = {
    format: FORMAT,
    manifest: options.manifest ?? 'demo',
    ...(options.manifestFile ? { manifestFile: options.manifestFile } : {}),
    ...(options.manifestSha256 ? { manifestSha256: options.manifestSha256 } : {}),
    startedAt: new Date().toISOString(),
  };
  await mkdir(root, { recursive: true });
  await writeFile(join(root, STATE_MARKER), `${JSON.stringify(marker)}\n`);
  return { dir: root, dynamoPath: join(root, 'dynamo'), marker, resumed: false };
}

/** The marker of the run kept in `dir`, for a resume; refused when there is none. */
export async function readStateMarker(dir: string): Promise<StateMarker> {
  return (await openStateDir(dir, { resume: true })).marker;
}

/** The directory's entries, or undefined when it does not exist; a file in its place is refused. */
async function listDir(root: string): Promise<string[] | undefined> {
  try {
    return await readdir(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw UsageError.invalid('--state', root, 'a directory');
    throw error;
  }
}

/** The marker of a state directory, undefined for an empty one; anything else is not a state directory. */
async function readMarker(root: string, entries: readonly string[]): Promise<StateMarker | undefined> {
  if (entries.length === 0) return undefined;
  const notState = () =>
    new UsageError(
      `--state ${root} is not a bounded-fanout state directory (no valid ${STATE_MARKER} among its ${entries.length} entries): give an empty directory`,
      { flag: '--state', value: root },
    );
  if (!entries.includes(STATE_MARKER)) throw notState();
  let marker: Partial<StateMarker>;
  try {
    marker = JSON.parse(await readFile(join(root, STATE_MARKER), 'utf8')) as Partial<StateMarker>;
  } catch {
    throw notState();
  }
  if (marker?.format !== FORMAT || typeof marker.manifest !== 'string') throw notState();
  return marker as StateMarker;
}
