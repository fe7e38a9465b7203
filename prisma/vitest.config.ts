import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@insta/db',
    include: ['test/**/*.test.ts'],
    // Each test runs the Prisma CLI (~3 s) and a new PGlite data directory takes ~10 s to initialise.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
