import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteKeysByPrefix,
  postGraphQL,
  silentLogger,
  startPrivatePostgres,
  testServices,
  uniquePrefix,
  type PrivatePostgres,
} from '@insta/infra/testing';
import { startSystem, type RunningSystem } from '../src/system.ts';

/**
 * The whole system on a Postgres of the test's own, which it stops and starts: while the database is down,
 * clients get a typed, retryable SERVICE_UNAVAILABLE (HTTP 503 with Retry-After when nothing could be served),
 * the subgraphs report unready, and everything works again once it is back, without restarts.
 */
describe('Postgres down', () => {
  let pg: PrivatePostgres;
  let system: RunningSystem;
  let dataDir: string;
  const prefix = uniquePrefix('outage');

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    dataDir = await mkdtemp(join(tmpdir(), 'insta-outage-'));
    system = await startSystem({
      env: {
        DATABASE_URL: pg.url,
        REDIS_URL: testServices.redisUrl,
        NATS_URL: testServices.natsUrl,
        DEPLOYMENT_PREFIX: prefix,
        PORT: '0',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
      },
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await system?.stop();
    await pg?.destroy();
    await rm(dataDir, { recursive: true, force: true });
    await deleteKeysByPrefix(testServices.redisUrl, `${prefix}:`);
  });

  it('should answer SERVICE_UNAVAILABLE with retryAfterSeconds, report unready, and recover', async () => {
    const signUp = await postGraphQL(
      system.gatewayUrl,
      'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }',
      { i: { username: 'outage_ana', email: 'outage_ana@example.com', password: 'a long enough password' } },
    );
    const { accessToken, user } = signUp.body.data!.signUp as { accessToken: string; user: { id: string } };
    const me = () =>
      postGraphQL(system.gatewayUrl, '{ me { id username } }', {}, { authorization: `Bearer ${accessToken}` });
    expect((await me()).body).toEqual({ data: { me: { id: user.id, username: 'outage_ana' } } });

    await pg.stop();
    const down = await me();
    expect(down.status).toBe(503);
    expect(down.body.errors?.[0]?.extensions).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      retryAfterSeconds: expect.any(Number),
    });
    const raw = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(raw.status).toBe(503);
    expect(Number(raw.headers.get('retry-after'))).toBeGreaterThan(0);
    // A mutation that reads and writes the database (social-graph: raw SQL through the driver adapter).
    const follow = await postGraphQL(
      system.gatewayUrl,
      'mutation($id: ID!) { follow(userId: $id) }',
      { id: '00000000-0000-4000-8000-000000000001' },
      { authorization: `Bearer ${accessToken}` },
    );
    expect(follow.status).toBe(503);
    expect(follow.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');

    const users = await fetch(new URL('/readyz', system.subgraphUrls.USERS_URL));
    expect(users.status).toBe(503);
    expect(((await users.json()) as { checks: Record<string, string> }).checks.postgres).not.toBe('ok');

    await pg.start();
    await expect.poll(async () => (await me()).status, { timeout: 20_000 }).toBe(200);
    expect((await fetch(new URL('/readyz', system.subgraphUrls.USERS_URL))).status).toBe(200);
  });
});
