import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/** Every workspace with a test/ folder is a project. */
const roots = ['packages', 'subgraphs']
  .flatMap((dir) => readdirSync(dir).map((name) => `${dir}/${name}`))
  .concat(['prisma', 'gateway', 'web'])
  .filter((root) => existsSync(`${root}/test`));

/**
 * Every test deployment gets its own streams on the shared JetStream server, and JetStream reserves each stream's
 * max_bytes out of the server's storage: with the production limits (1 GiB a stream) a run would exhaust it. Set
 * here, before the workers (and the service processes they start) inherit the environment.
 */
export const TEST_STREAM_MAX_BYTES = String(16 * 2 ** 20);
process.env.NATS_STREAM_MAX_BYTES ??= TEST_STREAM_MAX_BYTES;

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
