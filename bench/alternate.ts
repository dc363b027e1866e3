// Contenders measured side by side: one run of each in turn (A B C A B C ...), so a slow spell of the machine
// lands on every contender alike, then the median of each. Shared by the pipeline and ledger benches.
import type { RunReport } from '../local/report/types.js';
import { type PipelineRun, runPipeline } from './pipeline.js';

export interface Contender {
  readonly name: string;
  readonly flags: readonly string[];
  /** The CLI to run (local/cli/bin.mjs of another checkout, to compare two versions); this checkout's if not given. */
  readonly cli?: string;
  /**
   * A contender that is not a `bounded-fanout run` (the pipeline's ceiling): measures itself, in its own process,
   * and returns tasks/s; it sees the last run of each pipeline contender so far (to match its in-flight count).
   */
  readonly measure?: (last: ReadonlyMap<string, PipelineRun>) => Promise<number>;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
export const tasksPerSecond = (r: RunReport) => (r.submitted * 1000) / r.durationMs;

/**
 * `rounds` rounds of every contender, each a fresh `bounded-fanout run` process on `manifest`; a run that does not
 * end with all `tasks` succeeded throws, so a broken contender is never reported as a fast one.
 */
export async function alternate(
  contenders: readonly Contender[],
  {
    manifest,
    tasks,
    rounds,
    reportFile,
    label,
  }: {
    manifest: string;
    tasks: number;
    rounds: number;
    reportFile: string;
    label: string;
  },
): Promise<{ rates: Map<string, number[]>; cpu: Map<string, number[]>; last: Map<string, PipelineRun> }> {
  const rates = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  // CPU seconds (user + sys) of each `bounded-fanout run` process, start-up included.
  const cpu = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const last = new Map<string, PipelineRun>();
  for (let round = 0; round < rounds; round++) {
    for (const c of contenders) {
      if (c.measure) {
        const rate = await c.measure(last);
        rates.get(c.name)?.push(rate);
        console.error(`${label}: ${c.name} round ${round + 1}: ${fmt(rate)} tasks/s`);
        continue;
      }
      const result = await runPipeline(
        manifest,
        c.flags,
        reportFile,
        c.cli === undefined ? {} : { bin: c.cli },
      );
      if (result.report.succeeded !== tasks) {
        throw new Error(`${c.name}: ${result.report.succeeded} of ${tasks} succeeded (exit ${result.code})`);
      }
      const rate = tasksPerSecond(result.report);
      rates.get(c.name)?.push(rate);
      cpu.get(c.name)?.push(result.cpuSeconds);
      last.set(c.name, result);
      console.error(`${label}: ${c.name} round ${round + 1}: ${fmt(rate)} tasks/s`);
    }
  }
  return { rates, cpu, last };
}
