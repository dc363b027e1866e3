import { defineConfig } from 'vitest/config';

// The test files that exercise the mutated modules (stryker.config.mjs), and nothing else: Stryker reruns them
// once per mutant, so the emulator-heavy suites (functions/, local/) stay out. Stryker forces its own pool.
export default defineConfig({
  test: {
    include: [
      'test/lib/semaphore*.test.ts',
      'test/lib/run-bounded*.test.ts',
      'test/lib/map-bounded*.test.ts',
      'test/lib/bounded-*.test.ts',
      'test/lib/consume*.test.ts',
      'test/lib/thread-pool*.test.ts',
      'test/lib/cancellable-pull.test.ts',
      'test/lib/fifo*.test.ts',
      'test/lib/queue-waiters*.test.ts',
      'test/lib/fanout/settle*.test.ts',
      'test/lib/fanout/follow-up-plan*.test.ts',
      'test/lib/fanout/failure-budget*.test.ts',
      'test/lib/ledger/run-rules*.test.ts',
      ...(['all', 'enqueue'].includes(process.env.MUTATE_GROUP ?? 'all')
        ? ['test/lib/aws/enqueue*.test.ts']
        : []),
      'test/lib/fanout/send-isolated*.test.ts',
      'test/lib/fanout/send-lane*.test.ts',
      'test/lib/downstream/rate-limiter*.test.ts',
      'test/lib/http/destination-*.test.ts',
      'test/lib/http/allow-entry*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Fewer fast-check runs per mutant than CI's 1,000 (FC_RUNS overrides): a killed mutant usually dies early.
    env: { FC_RUNS: process.env.FC_RUNS ?? '100' },
    // The enqueue tests send through the SQS emulator; the other groups start no backend (Stryker restarts
    // its runner after every timed-out mutant, and each restart would start the emulators again).
    globalSetup: ['all', 'enqueue'].includes(process.env.MUTATE_GROUP ?? 'all')
      ? ['test/setup/backend.ts']
      : [],
  },
});
