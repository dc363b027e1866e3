import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Picks the AWS backend (LocalStack or the embedded emulators) once and provides its endpoints.
    globalSetup: ['test/setup/backend.ts'],
  },
});
