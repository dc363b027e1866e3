import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at once even on 2 cores (vitest's default is cores - 1 = 1 there): most files wait on
    // subprocesses, emulators and loopback servers, so one file's waits leave a core idle. With one, a quiet
    // 2-core machine took 828 s; with two, at load 10-13, the whole suite passed once the two tests it showed to be
    // load-sensitive were mended.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // Picks the AWS backend (LocalStack or the embedded emulators) once and provides its endpoints.
    globalSetup: ['test/setup/backend.ts'],
  },
});
