import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./vitest.global-setup.ts'],
    projects: ['packages/*', 'prisma', 'gateway', 'subgraphs/*'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
