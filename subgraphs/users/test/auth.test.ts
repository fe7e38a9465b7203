import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokedSessionKey, verifyAccessToken, type Identity } from '@insta/infra';
import { TEST_SECRETS } from '@insta/infra/testing';
import { newUser, REFRESH, SIGN_IN, SIGN_UP, startUsersHarness, type UsersHarness } from './harness.ts';

let h: UsersHarness;
beforeAll(async () => {
  h = await startUsersHarness({ SIGN_IN_MAX_ATTEMPTS: '3' });
});
afterAll(async () => {
  await h.stop();
});

async function identityOf(accessToken: string): Promise<Identity> {
  const result = await verifyAccessToken(TEST_SECRETS.JWT_SECRET, accessToken);
  if (!result.ok) throw new Error(`bad token: ${result.reason}`);
  return result.identity;
}

async function signUp(input = newUser()) {
  const res = await h.request(SIGN_UP, { input });
  expect(res.body.errors).toBeUndefined();
  return { input, payload: res.body.data!.signUp };
}

describe('signUp', () => {
  it('should create a user, store the username lower-case and return working tokens', async () => {
    const input = newUser();
    const { payload } = await signUp({ ...input, username: input.username.toUpperCase() });
    expect(payload.user).toMatchObject({ username: input.username, displayName: input.displayName, isPrivate: false });
    const identity = await identityOf(payload.accessToken);
    expect(identity.userId).toBe(payload.user.id);
    const me = await h.request('{ me { id username } }', {}, identity);
    expect(me.body.data!.me).toEqual({ id: payload.user.id, username: input.username });
  });

  it('should not keep the password in plain text', async () => {
    const { input, payload } = await signUp();
    const row = await h.db.user.findUniqueOrThrow({ where: { id: payload.user.id } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    expect(row.passwordHash).not.toContain(input.password);
  });

  it.each([
    ['username', { username: 'ab' }],
    ['username', { username: 'has space' }],
    ['email', { email: 'not-an-email' }],
    ['password', { password: 'short' }],
    ['displayName', { displayName: 'x'.repeat(65) }],
  ])('should reject an invalid %s with BAD_USER_INPUT and write nothing', async (field, override) => {
    const before = await h.db.user.count();
    const res = await h.request(SIGN_UP, { input: newUser(override) });
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: `input.${field}` });
    expect(await h.db.user.count()).toBe(before);
  });

  it('should reject a username or email taken in another case with CONFLICT', async () => {
    const { input } = await signUp();
    const sameName = await h.request(SIGN_UP, { input: newUser({ username: input.username.toUpperCase() }) });
    expect(sameName.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.username' });
    const sameEmail = await h.request(SIGN_UP, { input: newUser({ email: input.email.toUpperCase() }) });
    expect(sameEmail.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.email' });
  });

  it('should let exactly one of concurrent sign-ups of the same username win', async () => {
    const username = newUser().username;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        h.request(SIGN_UP, { input: newUser({ username, email: `race${i}_${username}@example.com` }) }),
      ),
    );
    const winners = results.filter((r) => !r.body.errors);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((r) => r.body.errors)) {
      expect(loser.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    }
    expect(await h.db.user.count({ where: { username } })).toBe(1);
  });
});

describe('signIn', () => {
  it('should sign in by username or by email, case-insensitively', async () => {
    const { input, payload } = await signUp();
    for (const login of [input.username, input.email.toUpperCase()]) {
      const res = await h.request(SIGN_IN, { input: { login, password: input.password } });
      expect(res.body.data!.signIn.user.id).toBe(payload.user.id);
    }
  });

  it('should answer a wrong password and an unknown login with the same UNAUTHENTICATED error', async () => {
    const { input } = await signUp();
    const wrong = await h.request(SIGN_IN, { input: { login: input.username, password: 'wrong password!' } });
    const unknown = await h.request(SIGN_IN, { input: { login: 'nobody_here_at_all', password: 'whatever123' } });
    expect(wrong.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(wrong.body.errors?.[0]?.message).toBe(unknown.body.errors?.[0]?.message);
  });

  it('should rate-limit repeated sign-in attempts for one login', async () => {
    const { input } = await signUp();
    const attempt = () => h.request(SIGN_IN, { input: { login: input.username, password: 'wrong password!' } });
    for (let i = 0; i < 3; i++) expect((await attempt()).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const limited = await attempt();
    expect(limited.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe('refresh tokens', () => {
  it('should rotate: the new token works once and the old one stops working', async () => {
    const { payload } = await signUp();
    const first = await h.request(REFRESH, { token: payload.refreshToken });
    expect(first.body.errors).toBeUndefined();
    const rotated = first.body.data!.refreshToken;
    expect(rotated.refreshToken).not.toBe(payload.refreshToken);
    expect((await identityOf(rotated.accessToken)).sessionId).toBe((await identityOf(payload.accessToken)).sessionId);
    const second = await h.request(REFRESH, { token: rotated.refreshToken });
    expect(second.body.errors).toBeUndefined();
  });

  it('should revoke the whole family when a rotated token is presented again', async () => {
    const { payload } = await signUp();
    const sessionId = (await identityOf(payload.accessToken)).sessionId;
    const rotated = (await h.request(REFRESH, { token: payload.refreshToken })).body.data!.refreshToken;
    const reuse = await h.request(REFRESH, { token: payload.refreshToken });
    expect(reuse.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const afterReuse = await h.request(REFRESH, { token: rotated.refreshToken });
    expect(afterReuse.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await h.kv.get(revokedSessionKey(sessionId))).toBe('REUSE');
    expect((await h.db.session.findUniqueOrThrow({ where: { id: sessionId } })).revokedReason).toBe('REUSE');
  });

  it('should reject forged and unknown refresh tokens', async () => {
    const res = await h.request(REFRESH, { token: 'forged-token' });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('should let only one of two concurrent uses of one refresh token succeed', async () => {
    const { payload } = await signUp();
    const results = await Promise.all([1, 2].map(() => h.request(REFRESH, { token: payload.refreshToken })));
    expect(results.filter((r) => !r.body.errors)).toHaveLength(1);
  });
});

describe('signOut', () => {
  it('should revoke the session so that its refresh token and access tokens stop working', async () => {
    const { payload } = await signUp();
    const identity = await identityOf(payload.accessToken);
    const res = await h.request('mutation { signOut }', {}, identity);
    expect(res.body.data).toEqual({ signOut: true });
    expect(await h.kv.exists(revokedSessionKey(identity.sessionId))).toBe(true);
    const refresh = await h.request(REFRESH, { token: payload.refreshToken });
    expect(refresh.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('should require a signed-in caller', async () => {
    const res = await h.request('mutation { signOut }');
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

const REVOCATIONS = /* GraphQL */ `
  query Revocations($since: DateTime) {
    sessionRevocations(since: $since) {
      asOf
      sessions {
        sessionId
        revokedAt
        expiresAt
      }
    }
  }
`;

describe('sessionRevocations (internal, for the gateway)', () => {
  it('should list sessions revoked since a time, until their access tokens have expired', async () => {
    const before = new Date();
    const signedOut = await identityOf((await signUp()).payload.accessToken);
    const active = await identityOf((await signUp()).payload.accessToken);
    await h.request('mutation { signOut }', {}, signedOut);

    const all = (await h.request(REVOCATIONS, { since: null })).body.data!.sessionRevocations;
    const listed = all.sessions.find((s: { sessionId: string }) => s.sessionId === signedOut.sessionId);
    expect(listed).toBeDefined();
    const lifetime = Date.parse(listed.expiresAt) - Date.parse(listed.revokedAt);
    expect(lifetime).toBe(h.config.ACCESS_TOKEN_TTL_SECONDS * 1000);
    expect(all.sessions.map((s: { sessionId: string }) => s.sessionId)).not.toContain(active.sessionId);

    const since = (await h.request(REVOCATIONS, { since: before.toISOString() })).body.data!.sessionRevocations;
    expect(since.sessions.map((s: { sessionId: string }) => s.sessionId)).toContain(signedOut.sessionId);
    const after = (await h.request(REVOCATIONS, { since: all.asOf })).body.data!.sessionRevocations;
    expect(after.sessions.map((s: { sessionId: string }) => s.sessionId)).not.toContain(signedOut.sessionId);
  });

  it('should leave out revocations whose access tokens have all expired', async () => {
    const identity = await identityOf((await signUp()).payload.accessToken);
    await h.request('mutation { signOut }', {}, identity);
    const expired = new Date(Date.now() - h.config.ACCESS_TOKEN_TTL_SECONDS * 1000 - 1_000);
    await h.db.session.update({ where: { id: identity.sessionId }, data: { revokedAt: expired } });
    const all = (await h.request(REVOCATIONS, { since: null })).body.data!.sessionRevocations;
    expect(all.sessions.map((s: { sessionId: string }) => s.sessionId)).not.toContain(identity.sessionId);
  });
});

describe('accountStates (internal, for replicas)', () => {
  it('should answer existence, privacy and version of users, leaving out unknown ids', async () => {
    const { payload } = await signUp();
    const id = payload.user.id as string;
    const res = await h.request('query($ids: [ID!]!) { accountStates(ids: $ids) { userId isPrivate updatedAt } }', {
      ids: [id, '00000000-0000-4000-8000-000000000000', 'not-an-id'],
    });
    expect(res.body.data!.accountStates).toEqual([{ userId: id, isPrivate: false, updatedAt: expect.any(String) }]);
  });
});
