// `run --state DIR`: the directory that keeps a local run's data on disk, so a run killed (kill -9, a crash, a
// power cut) can be finished with `run --state DIR --resume`. It holds a marker file naming the run (which job,
// which manifest file and its SHA-256), dynalite's LevelDB store (the job ledger and the idempotency records)
// and the runtime's journal of the queue (local/queue-journal.ts). A directory is taken for a new run only when
// it is empty or missing; one that holds another run is refused, as is one that is not a state directory.
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from './usage-error.js';

export const STATE_MARKER = 'bounded-fanout-state.json';
/** Names the process that runs the kept run, while it runs (removed at its exit; a kill -9 leaves it). */
export const STATE_LOCK = 'bounded-fanout.lock';
const FORMAT = 'bounded-fanout-state/1';

/** What the marker file says about the run the directory holds. */
export interface StateMarker {
  readonly format: typeof FORMAT;
  /** The manifest as given on the command line (what the report calls it). */
  readonly manifest: string;
  readonly manifestFile?: string;
  readonly manifestSha256?: string;
  readonly startedAt: string;
  /** The run's flags, which a resume runs with (local/cli/resume-flags.ts); absent in older markers. */
  readonly flags?: readonly string[];
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
  /** A new run's flags, kept for its resume. */
  readonly flags?: readonly string[];
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
    await claim(root, dir);
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
    flags: options.flags ?? [],
  };
  await mkdir(root, { recursive: true });
  await writeFile(join(root, STATE_MARKER), `${JSON.stringify(marker)}\n`);
  await claim(root, dir);
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

/**
 * Claims the directory for this process: refused while another live process holds it (its emulators have the
 * store open: a second process would fail deep in LevelDB), taken over from one that is gone (killed). The
 * lock names the process; it is removed when this one exits. A process id reused since a kill -9 reads as
 * live: the message names it, and removing the lock file settles it. Two processes that claim at once (two
 * resumes started together) never both take it: the lock appears whole or not at all (a link of a file
 * already written), and a lock taken over is first moved aside, so only one of them removes the dead one.
 */
async function claim(root: string, dir: string): Promise<void> {
  const file = join(root, STATE_LOCK);
  for (let tries = 0; tries < 3; tries++) {
    if (await createLock(file)) {
      if (locksHeld.size === 0) process.once('exit', () => locksHeld.forEach(removeLock));
      locksHeld.add(file);
      return;
    }
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // removed meanwhile: try again
    const pid = Number(text.trim());
    if (pid === process.pid) return;
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new UsageError(
        `--state ${dir}: the run kept there is still running (process ${pid}): let it end or stop it first (a lock left by a process that is gone is taken over; ${STATE_LOCK} names it)`,
        { flag: '--state', value: dir },
      );
    }
    await takeOver(file, text); // its process is gone (killed)
  }
  throw new UsageError(`--state ${dir}: could not claim it (${STATE_LOCK} keeps coming back)`, {
    flag: '--state',
    value: dir,
  });
}

/** Makes the lock naming this process, whole (written aside, then linked): false when one is there. */
async function createLock(file: string): Promise<boolean> {
  const written = `${file}.${process.pid}.new`;
  await writeFile(written, String(process.pid));
  try {
    await link(written, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(written, { force: true });
  }
}

/**
 * Removes the lock of a process that is gone, read as `stale`. It is moved aside first (one process's move
 * wins); one that turns out to be another's, made since it was read, is linked back, never removed.
 */
async function takeOver(file: string, stale: string): Promise<void> {
  const aside = `${file}.${process.pid}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another process took it over first
    throw error;
  }
  try {
    if ((await readFile(aside, 'utf8')) !== stale) await link(aside, file).catch(() => {});
  } finally {
    await rm(aside, { force: true });
  }
}

/** The locks this process holds, removed when it exits. */
const locksHeld = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the lock at exit if it still names this process (never another's that replaced it). */
function removeLock(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // gone already
  }
}
