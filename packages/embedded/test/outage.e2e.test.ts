import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteKeysByPrefix,
  postGraphQL,
  silentLogger,
  startPrivateNats,
  startPrivatePostgres,
  startPrivateRedis,
  testServices,
  uniquePrefix,
  type PrivatePostgres,
  type PrivateServer,
} from '@insta/infra/testing';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
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

/** Redis and NATS of the test's own, killed and restarted (Redis comes back empty, as after losing it). */
describe('Redis and NATS down', () => {
  let redis: PrivateServer;
  let nats: PrivateServer;
  let database: TestDatabase;
  let system: RunningSystem;
  let dataDir: string;

  beforeAll(async () => {
    [redis, nats, database] = await Promise.all([startPrivateRedis(), startPrivateNats(), createTestDatabase()]);
    dataDir = await mkdtemp(join(tmpdir(), 'insta-outage-'));
    system = await startSystem({
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        NATS_URL: nats.url,
        DEPLOYMENT_PREFIX: 'outage',
        PORT: '0',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
      },
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await system?.stop();
    await Promise.all([redis?.destroy(), nats?.destroy(), database?.drop()]);
    await rm(dataDir, { recursive: true, force: true });
  });

  const readyz = async (url: string) => {
    const res = await fetch(new URL('/readyz', url));
    return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
  };

  it('should answer SERVICE_UNAVAILABLE where Redis is needed, keep sessions checked, and recover', async () => {
    const input = { username: 'outage_bo', email: 'outage_bo@example.com', password: 'a long enough password' };
    const signUp = await postGraphQL(
      system.gatewayUrl,
      'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }',
      { i: input },
    );
    const { accessToken } = signUp.body.data!.signUp as { accessToken: string };
    const me = () =>
      postGraphQL(system.gatewayUrl, '{ me { username } }', {}, { authorization: `Bearer ${accessToken}` });
    const signIn = () =>
      postGraphQL(system.gatewayUrl, 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
        i: { login: input.username, password: input.password },
      });

    await redis.stop();
    // Sign-in counts attempts in Redis: typed and retryable, not an internal error.
    const refused = await signIn();
    expect(refused.status).toBe(503);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    // Revocation markers are unreadable, but the gateway's fresh copy of the revocations still answers.
    expect((await me()).body).toEqual({ data: { me: { username: 'outage_bo' } } });
    const users = await readyz(system.subgraphUrls.USERS_URL);
    expect(users.status).toBe(503);
    expect(users.checks.redis).not.toBe('ok');
    expect((await readyz(system.gatewayUrl)).checks.redis).not.toBe('ok');

    await redis.start();
    await expect.poll(async () => (await signIn()).status, { timeout: 20_000 }).toBe(200);
    expect((await me()).status).toBe(200);
    expect((await readyz(system.subgraphUrls.USERS_URL)).status).toBe(200);
  });

  it('should report unready without NATS while requests that do not need it are served, and recover', async () => {
    await nats.stop();
    await expect.poll(async () => (await readyz(system.subgraphUrls.POSTS_URL)).checks.nats).not.toBe('ok');
    expect((await readyz(system.gatewayUrl)).status).toBe(503);
    const search = await postGraphQL(
      system.gatewayUrl,
      '{ searchUsers(query: "outage") { edges { node { username } } } }',
    );
    expect(search.status).toBe(200);
    expect(search.body.errors).toBeUndefined();
    await nats.start();
    await expect.poll(async () => (await readyz(system.gatewayUrl)).status, { timeout: 20_000 }).toBe(200);
    await expect.poll(async () => (await readyz(system.subgraphUrls.POSTS_URL)).status, { timeout: 20_000 }).toBe(200);
  });
});
