import { defineConfig } from 'vitest/config';

/**
 * The fault-injection tier (`npm run test:faults`): the deployed topology (every service its own process) on
 * private Postgres / Redis / NATS instances that the tests stop, kill and restart. Files run one at a time:
 * each starts a whole topology, and two at once would starve each other on a small machine.
 */
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['test/**/*.test.ts'],
    globalSetup: ['../vitest.global-setup.ts'],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 240_000,
  },
});
