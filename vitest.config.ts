import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers and child processes; bound each so a hang fails instead of stalling CI.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers only add contention to the timing-sensitive integration tests.
    maxWorkers: 2,
  },
});
