import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@insta/embedded',
    include: ['test/**/*.test.ts'],
    // A fresh PGlite data directory takes ~10 s to initialise; migrate deploy runs the Prisma CLI (~3 s).
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
