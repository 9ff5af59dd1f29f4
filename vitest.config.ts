import { defineConfig } from 'vitest/config';

/**
 * Tests that measure the server's memory run after all the others, alone: under the parallel load of the rest
 * of the suite, a process's resident memory says more about the machine than about the server.
 */
const measuresMemory = ['test/transports/slow-consumer.test.ts'];

/** Tests that force a garbage collection to check what stays reachable; their workers get `global.gc`. */
const collectsGarbage = ['test/transports/adapter-memory.test.ts'];

/**
 * A rejection nothing handles fails the test run in the worker that made it, as it would end a server under
 * Node's default: none can hide behind a listener. Spawned servers get the same flag (test/harness.ts).
 */
const strict = '--unhandled-rejections=strict';

export default defineConfig({
  // Tests run the packages' sources through tsconfig.json `paths`, never a dist/ that may be stale.
  resolve: { tsconfigPaths: true },
  test: {
    // Integration tests start real servers and child processes; bound each so a hang fails instead of stalling CI.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers only add contention to the timing-sensitive integration tests.
    maxWorkers: 2,
    execArgv: [strict],
    projects: [
      {
        extends: true,
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...measuresMemory, ...collectsGarbage] },
      },
      { extends: true, test: { name: 'gc', include: collectsGarbage, execArgv: [strict, '--expose-gc'] } },
      { extends: true, test: { name: 'memory', include: measuresMemory, sequence: { groupOrder: 1 } } },
    ],
  },
});
