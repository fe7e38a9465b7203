import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/** Every workspace with a test/ folder is a project. */
const roots = ['packages', 'subgraphs']
  .flatMap((dir) => readdirSync(dir).map((name) => `${dir}/${name}`))
  .concat(['prisma', 'gateway', 'web'])
  .filter((root) => existsSync(`${root}/test`));

export default defineConfig({
  test: {
    // Once per run, before any project: the migrated template database every test database is copied from.
    globalSetup: ['./vitest.global-setup.ts'],
    // Real services, child processes and a fresh PGlite (~10 s) take longer than vitest's defaults.
    projects: roots.map((root) => ({
      test: { name: root, root, include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 },
    })),
  },
});
