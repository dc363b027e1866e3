// StrykerJS: `npm run mutate` (every group) or `MUTATE_GROUP=<name> npm run mutate` (one group); add
// `-- --mutate <file>` to narrow further. Not in CI: a habit, run before touching these files.
// Reports land in reports/mutation/<group>.html|.json, the incremental state in reports/ (both gitignored).

/** The mutated files, by group. Globs so that files split out of a module (lib/bounded-*.ts) still match. */
const groups = {
  primitives: [
    'lib/semaphore.ts',
    'lib/run-bounded.ts',
    'lib/map-bounded.ts',
    'lib/bounded-*.ts',
    'lib/consume.ts',
    'lib/thread-pool.ts',
    'lib/fifo.ts',
    'lib/queue-waiters.ts',
    'lib/scheduler-slots.ts',
    'lib/cancellable-pull.ts',
  ],
  settlement: [
    'lib/fanout/settle.ts',
    'lib/fanout/follow-up-plan.ts',
    'lib/fanout/settle-reserve.ts',
    'lib/fanout/failure-budget.ts',
    'lib/ledger/run-rules.ts',
  ],
  enqueue: ['lib/aws/enqueue.ts', 'lib/fanout/send-isolated.ts', 'lib/fanout/send-lane.ts'],
  // The limiters the downstream policy admits through (issue 18: "the other primitives ... rate limiter").
  limiters: ['lib/downstream/rate-limiter.ts'],
  guard: ['lib/http/destination-guard.ts', 'lib/http/allow-entry.ts'],
};

const group = process.env.MUTATE_GROUP ?? 'all';
if (group !== 'all' && !(group in groups)) {
  throw new Error(`MUTATE_GROUP: unknown group '${group}' (one of: all, ${Object.keys(groups).join(', ')})`);
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutate.config.ts', related: true },
  mutate: group === 'all' ? Object.values(groups).flat() : groups[group],
  coverageAnalysis: 'perTest',
  // The machine is small and shared: one sandbox at a time.
  concurrency: 1,
  // Added to 1.5 x the covering tests' own time: a mutant that stops a release hangs; give up on it soon.
  timeoutMS: 5_000,
  incremental: true,
  incrementalFile: `reports/stryker-incremental-${group}.json`,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: `reports/mutation/${group}.html` },
  jsonReporter: { fileName: `reports/mutation/${group}.json` },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: `.tmp/stryker-${group}`,
  cleanTempDir: true,
  ignorePatterns: ['cdk.out', 'dist', 'coverage', 'reports', '.tmp'],
};
