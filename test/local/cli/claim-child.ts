// A process that claims state directories for test/local/cli/state-lock.test.ts: for each directory given, it
// spins until the test's go file for it appears (so two such processes start their claims together), claims
// it as a resume does, and prints one line: the directory and whether it took it. It holds every directory
// it took until it is killed.
import { existsSync } from 'node:fs';
import { openStateDir } from '../../../local/cli/state-dir.js';

const [go, ...dirs] = process.argv.slice(2);
for (const [i, dir] of dirs.entries()) {
  while (!existsSync(`${go}.${i}`)) {
    // spin: a timer's granularity would let one process start its claim well before the other
  }
  const line = await openStateDir(dir, { resume: true }).then(
    () => ({ i, claimed: true }),
    (error: Error) => ({ i, claimed: false, error: error.message }),
  );
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
setInterval(() => {}, 60_000);
