// The private directories of disk-held objects (disk-objects.ts) are named after the process that made them
// (`bounded-fanout-objects-PID-XXXXXX`) and removed when its endpoint closes; a process killed outright (kill -9,
// a crash) cannot, and a million-task manifest's copy is 60 MB. The next one to make such a directory removes
// those whose process is gone. A directory whose PID is alive (that process, or another that reused the PID)
// is left alone.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const COPIES_PREFIX = 'bounded-fanout-objects-';

/** The directory name prefix for this process (mkdtemp adds six random characters). */
export const copiesPrefixOf = (pid: number) => `${COPIES_PREFIX}${pid}-`;

/** Removes the copies directories in `dir` left by processes that no longer run; how many it removed. */
export async function removeStaleCopies(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const pid = /^bounded-fanout-objects-(\d+)-[^/]+$/.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isAlive(Number(pid))) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => {});
    removed++;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (error) {
    // EPERM: it exists, owned by another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
