// A child process's peak resident set (/proc/PID/status VmHWM) and CPU (user + system, /proc/PID/stat), read
// every 50 ms while it runs: the last reading stands once it has exited (at most 50 ms of CPU unseen).
import { readFile } from 'node:fs/promises';

export class ProcessSampler {
  #peakRssBytes = 0;
  #cpuSeconds = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number) {
    this.#timer = setInterval(() => void this.#sample(pid), 50);
  }

  stop(): { peakRssBytes: number; cpuSeconds: number } {
    clearInterval(this.#timer);
    return { peakRssBytes: this.#peakRssBytes, cpuSeconds: this.#cpuSeconds };
  }

  async #sample(pid: number): Promise<void> {
    try {
      this.#cpuSeconds = cpuSecondsOf(await readFile(`/proc/${pid}/stat`, 'utf8'));
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      this.#peakRssBytes = Math.max(this.#peakRssBytes, kb * 1024);
    } catch {
      // The process has just exited: its last reading stands.
    }
  }
}

/** utime + stime of a /proc/PID/stat line (fields 14 and 15, after the parenthesised name), in seconds. */
function cpuSecondsOf(stat: string): number {
  // Fields from the third (state) on; USER_HZ is 100 on Linux.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
