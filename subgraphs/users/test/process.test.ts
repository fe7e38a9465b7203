import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
import { testServices, TEST_SECRETS } from '@insta/infra/testing';

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../../../node_modules/tsx/dist/cli.mjs', import.meta.url));

function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, [tsx, entry], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return { child, output: () => output, exited: once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]> };
}

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});

describe('the users process', () => {
  it('should refuse to start and name the variable when a setting is missing or bad', async () => {
    const run = startProcess({ GATEWAY_SIGNING_SECRET: 'short', DATABASE_URL: database.url, REDIS_URL: testServices.redisUrl, NATS_URL: testServices.natsUrl });
    const [code] = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('GATEWAY_SIGNING_SECRET: must be at least 32 characters');
    expect(run.output()).toContain('JWT_SECRET');
  });

  it('should serve until SIGTERM, then drain and exit cleanly', async () => {
    const run = startProcess({
      ...TEST_SECRETS,
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      REDIS_URL: testServices.redisUrl,
      NATS_URL: testServices.natsUrl,
    });
    const url = await vi.waitFor(
      () => {
        const match = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(run.output());
        if (!match) throw new Error('not listening yet');
        return match[1]!;
      },
      { timeout: 30_000, interval: 100 },
    );
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    run.child.kill('SIGTERM');
    const [code] = await run.exited;
    expect(code).toBe(0);
    expect(run.output()).toContain('draining');
  });
});
