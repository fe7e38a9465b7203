import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, RedisKeyValueStore, revokedSessionKey } from '@insta/infra';
import { deleteKeysByPrefix, freePort, testServices, uniquePrefix } from '@insta/infra/testing';
import { isWriteOperation } from '../src/subgraph-data-source.ts';
import { TRY_AGAIN_LATER } from '../src/websocket.ts';
import { accessToken, startTestGateway, type TestGateway } from './helpers.ts';
import { runOnce, wsClient } from './ws-client.ts';

const SEEN = '{ seen { userId sessionId } }';
const bearer = async (sessionId: string) => ({
  authorization: `Bearer ${await accessToken({ userId: 'u1', sessionId })}`,
});

describe('which subgraph fetches may be retried', () => {
  it('should retry queries and entity fetches, never mutations', () => {
    const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
    expect(isWriteOperation(body('mutation($a: Int) { touch }'))).toBe(true);
    expect(isWriteOperation(body('  mutation { touch }'))).toBe(true);
    expect(isWriteOperation(body('{ seen { userId } }'))).toBe(false);
    expect(isWriteOperation(body('query($r: [_Any!]!) { _entities(representations: $r) { __typename } }'))).toBe(false);
    // A variable whose value merely reads "mutation" is data, not the operation.
    expect(isWriteOperation(body('query($q: String!) { searchUsers(query: $q) }', { text: 'mutation x' }))).toBe(false);
  });
});

describe('subgraphs down, slow or failing', () => {
  let t: TestGateway;
  beforeAll(async () => {
    // Nothing listens on the posts URL: that subgraph is down.
    const postsUrl = `http://127.0.0.1:${await freePort()}/graphql`;
    t = await startTestGateway(
      { SUBGRAPH_TIMEOUTS: 'users=500', BREAKER_THRESHOLD: '3', BREAKER_HALF_OPEN_AFTER_MS: '60000' },
      { postsUrl },
    );
  });
  afterAll(() => t.close());

  it('should answer partial data with a retryable error for the fields of a subgraph that is down', async () => {
    const { status, body } = await t.post({ query: '{ seen { userId } user(id: "1") { id posts { id } } }' });
    expect(status).toBe(200);
    expect(body.data).toEqual({ seen: { userId: null }, user: null });
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('should answer 503 with Retry-After when nothing of the operation could be served', async () => {
    const response = await fetch(t.gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ slow }' }),
    });
    expect(response.status).toBe(200);
    let release!: () => void;
    t.revocations.slow = new Promise((resolve) => (release = resolve));
    try {
      const timedOut = await t.post({ query: '{ slow }' });
      expect(timedOut.status).toBe(503);
      expect(timedOut.body.errors?.[0]?.message).toMatch(/users did not answer within 500 ms/);
      expect(timedOut.body.errors?.[0]?.extensions).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        retryAfterSeconds: expect.any(Number),
      });
    } finally {
      release();
    }
  });

  it('should open the breaker of a failing subgraph and then answer at once, without asking it', async () => {
    // The posts subgraph is down: each failed fetch counts (a read is tried twice: SUBGRAPH_RETRIES=1).
    const messages: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await t.post({ query: '{ user(id: "1") { posts { id } } }' });
      messages.push(body.errors?.[0]?.message ?? '');
    }
    expect(messages.at(-1)).toMatch(/posts is not answering \(circuit open\)/);
    const response = await fetch(t.gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ user(id: "1") { posts { id } } }' }),
    });
    const body = (await response.json()) as { errors: { extensions: { retryAfterSeconds: number } }[] };
    expect(body.errors[0]!.extensions.retryAfterSeconds).toBeGreaterThan(50);
    // The users subgraph's breaker is its own: users fields are still served.
    expect((await t.post({ query: SEEN })).body).toEqual({ data: { seen: { userId: null, sessionId: null } } });
  });

  it('should stay ready while one subgraph answers, naming the ones that do not', async () => {
    const base = new URL(t.gateway.url).origin;
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe('/readyz of a gateway whose subgraphs are all down', () => {
  it('should be unready, naming each subgraph', async () => {
    const t = await startTestGateway({ USERS_URL: `http://127.0.0.1:${await freePort()}/graphql` });
    try {
      const res = await fetch(`${new URL(t.gateway.url).origin}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: Record<string, string> };
      expect(body.checks.subgraphs).toMatch(/no subgraph reachable \(users: /);
      expect(body.checks.revocations).toMatch(/not loaded/);
    } finally {
      await t.close();
    }
  });
});

describe('revocation that survives the loss of Redis', () => {
  const prefix = uniquePrefix('gateway-revocations:');
  let t: TestGateway;
  beforeAll(async () => {
    const kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), prefix);
    t = await startTestGateway({ REVOCATION_SYNC_INTERVAL_MS: '100', REVOCATION_MAX_STALENESS_MS: '1000' }, { kv });
  });
  afterAll(async () => {
    await t.close();
    await t.kv.close();
    await deleteKeysByPrefix(testServices.redisUrl, prefix);
  });

  it('should keep a signed-out session signed out over HTTP and websockets once Redis lost its marker', async () => {
    // Signed out: users wrote the marker to Redis and revoked_at to Postgres. Then Redis loses everything.
    await t.kv.set(revokedSessionKey('s-out'), 'SIGN_OUT', 60_000);
    t.revocations.sessions.set('s-out', Date.now() + 60_000);
    await expect.poll(async () => (await t.post({ query: SEEN }, await bearer('s-out'))).status).toBe(401);
    await deleteKeysByPrefix(testServices.redisUrl, prefix);
    expect(await t.kv.exists(revokedSessionKey('s-out'))).toBe(false);

    const http = await t.post({ query: SEEN }, await bearer('s-out'));
    expect(http.status).toBe(401);
    expect(http.body.errors?.[0]?.message).toMatch(/signed out/);
    const { client, closes } = wsClient(t.gateway.url, (await bearer('s-out')) as Record<string, unknown>);
    await runOnce(client, SEEN);
    expect(closes[0]?.code).toBe(4403);
    await client.dispose();
  });

  it('should notice a revocation that only Postgres has, within a sync', async () => {
    expect((await t.post({ query: SEEN }, await bearer('s-later'))).status).toBe(200);
    t.revocations.sessions.set('s-later', Date.now() + 60_000);
    await expect.poll(async () => (await t.post({ query: SEEN }, await bearer('s-later'))).status).toBe(401);
  });

  it('should fail closed while neither a fresh list nor intact Redis markers can vouch for a session', async () => {
    t.revocations.down = true;
    try {
      // Stale list but Redis intact (its sync marker is there): Redis markers are complete, sessions still work.
      await expect
        .poll(() => fetch(`${new URL(t.gateway.url).origin}/readyz`).then((r) => r.text()))
        .toMatch(/"ok":true/);
      expect((await t.post({ query: SEEN }, await bearer('s-active'))).status).toBe(200);
      // Redis lost too: a session revoked meanwhile could be anyone. Authenticated requests wait; anonymous ones work.
      await deleteKeysByPrefix(testServices.redisUrl, prefix);
      const refused = await t.post({ query: SEEN }, await bearer('s-active'));
      expect(refused.status).toBe(503);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect((await t.post({ query: SEEN })).status).toBe(200);
      const { client, closes } = wsClient(t.gateway.url, (await bearer('s-active')) as Record<string, unknown>);
      await runOnce(client, SEEN);
      expect(closes[0]?.code).toBe(TRY_AGAIN_LATER);
      await client.dispose();
      await expect.poll(() => fetch(`${new URL(t.gateway.url).origin}/readyz`).then((r) => r.status)).toBe(503);
    } finally {
      t.revocations.down = false;
    }
    // Back once a sync succeeds (the users breaker, opened by the outage, lets a trial call through first).
    await expect
      .poll(async () => (await t.post({ query: SEEN }, await bearer('s-active'))).status, { timeout: 15_000 })
      .toBe(200);
    expect((await t.post({ query: SEEN }, await bearer('s-out'))).status).toBe(401);
  });
});
