import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
import { IDENTITY_HEADER, requestPath, signIdentity } from '@insta/infra';
import { testServices, TEST_SECRETS, uniquePrefix } from '@insta/infra/testing';
import { deleteStreams, holdRequest, spawnService } from '@insta/topology/testing';

let database: TestDatabase;
const prefix = uniquePrefix('usersproc');
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
  await deleteStreams(testServices.natsUrl, prefix);
});

const serviceEnv = () => ({
  ...TEST_SECRETS,
  PORT: '0',
  LOG_LEVEL: 'info',
  NODE_ENV: 'production',
  DATABASE_URL: database.url,
  REDIS_URL: testServices.redisUrl,
  NATS_URL: testServices.natsUrl,
  DEPLOYMENT_PREFIX: prefix,
});

/** The built users process, serving: resolves with its base URL. */
async function startUsers() {
  const run = await spawnService('users', serviceEnv());
  const url = await vi.waitFor(
    () => {
      const match = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(run.output());
      if (!match) throw new Error(`not listening yet:\n${run.output()}`);
      return match[1]!;
    },
    { timeout: 30_000, interval: 100 },
  );
  return { ...run, url };
}

describe('the users process', () => {
  it('should refuse to start and name the variable when a setting is missing or bad', async () => {
    const run = await spawnService('users', {
      GATEWAY_SIGNING_SECRET: 'short',
      DATABASE_URL: database.url,
      REDIS_URL: testServices.redisUrl,
      NATS_URL: testServices.natsUrl,
    });
    const [code] = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain('GATEWAY_SIGNING_SECRET: must be at least 32 characters');
    expect(run.output()).toContain('JWT_SECRET');
  });

  it('should serve until SIGTERM, then drain and exit cleanly', async () => {
    const run = await startUsers();
    expect((await fetch(`${run.url}/readyz`)).status).toBe(200);
    run.child.kill('SIGTERM');
    const [code] = await run.exited;
    expect(code).toBe(0);
    expect(run.output()).toContain('draining');
    expect(run.output()).toContain('"msg":"stopped"');
  });

  it('should finish a request in flight when SIGTERM arrives, then exit 0', async () => {
    const run = await startUsers();
    const body = JSON.stringify({ query: '{ __typename }' });
    const held = await holdRequest(`${run.url}/graphql`, body, {
      [IDENTITY_HEADER]: signIdentity(TEST_SECRETS.GATEWAY_SIGNING_SECRET, null, {
        audience: 'users',
        path: requestPath(`${run.url}/graphql`),
        body,
      }),
    });
    run.child.kill('SIGTERM');
    await vi.waitFor(() => expect(run.output()).toContain('draining'), { timeout: 10_000, interval: 50 });
    // Draining: new connections are refused while the held request is still being served.
    await expect(fetch(`${run.url}/healthz`)).rejects.toThrow();
    held.release();
    const response = await held.response;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { __typename: 'Query' } });
    const [code] = await run.exited;
    expect(code).toBe(0);
  });
});
