import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { revokedSessionKey, verifyAccessToken, type Identity } from '@insta/infra';
import { TEST_SECRETS, TEST_SERVICE } from '@insta/infra/testing';
import { newUser, REFRESH, SIGN_IN, SIGN_UP, startUsersHarness, type UsersHarness } from './harness.ts';

let h: UsersHarness;
beforeAll(async () => {
  h = await startUsersHarness({ SIGN_IN_MAX_ATTEMPTS: '3', SIGN_IN_ACCOUNT_MAX_ATTEMPTS: '5' });
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

  const from = (ip: string) => ({ 'x-client-ip': ip });
  const signInFrom = (ip: string, login: string, password = 'wrong password!') =>
    h.request(SIGN_IN, { input: { login, password } }, null, from(ip));
  const codeOf = (res: Awaited<ReturnType<typeof signInFrom>>) => res.body.errors?.[0]?.extensions?.code;

  it('should rate-limit repeated sign-in attempts for one account from one address', async () => {
    const { input } = await signUp();
    for (let i = 0; i < 3; i++) expect(codeOf(await signInFrom('192.0.2.1', input.username))).toBe('UNAUTHENTICATED');
    const limited = await signInFrom('192.0.2.1', input.username);
    expect(limited.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('should count the e-mail address and the username of an account in the same bucket', async () => {
    const { input } = await signUp();
    for (let i = 0; i < 3; i++) expect(codeOf(await signInFrom('192.0.2.2', input.username))).toBe('UNAUTHENTICATED');
    const byEmail = await signInFrom('192.0.2.2', input.email.toUpperCase(), input.password);
    expect(codeOf(byEmail)).toBe('RATE_LIMITED');
    expect(byEmail.body.data).toBeNull();
  });

  it('should not let wrong passwords from one address lock the owner out on another', async () => {
    const { input } = await signUp();
    for (let i = 0; i < 4; i++) await signInFrom('198.51.100.66', input.username);
    expect(codeOf(await signInFrom('198.51.100.66', input.username, input.password))).toBe('RATE_LIMITED');
    const owner = await signInFrom('203.0.113.10', input.email, input.password);
    expect(owner.body.errors).toBeUndefined();
    expect(owner.body.data?.signIn.user.username).toBe(input.username);
  });

  it('should limit one account across all addresses with the slower account-wide bucket', async () => {
    const { input } = await signUp();
    // SIGN_IN_ACCOUNT_MAX_ATTEMPTS is 5: two attempts from each of three addresses.
    const codes = [];
    for (const ip of ['192.0.2.11', '192.0.2.12', '192.0.2.13']) {
      for (let i = 0; i < 2; i++) codes.push(codeOf(await signInFrom(ip, input.username)));
    }
    expect(codes).toEqual([...Array(5).fill('UNAUTHENTICATED'), 'RATE_LIMITED']);
    expect(codeOf(await signInFrom('192.0.2.14', input.username, input.password))).toBe('RATE_LIMITED');
  });

  it('should keep letting the owner in from an address they signed in from when the account-wide bucket is empty', async () => {
    const { input } = await signUp();
    expect(codeOf(await signInFrom('203.0.113.40', input.username, input.password))).toBeUndefined();
    // Two more guesses from each of three addresses empty the account-wide bucket (5).
    for (const ip of ['192.0.2.41', '192.0.2.42', '192.0.2.43']) {
      for (let i = 0; i < 2; i++) await signInFrom(ip, input.username);
    }
    expect(codeOf(await signInFrom('192.0.2.44', input.username, input.password))).toBe('RATE_LIMITED');
    const home = await signInFrom('203.0.113.40', input.email, input.password);
    expect(home.body.errors).toBeUndefined();
    expect(home.body.data?.signIn.user.username).toBe(input.username);
  });

  it('should refuse an over-long login or password before any lookup or hash', async () => {
    const longLogin = await signInFrom('192.0.2.20', `${'a'.repeat(255)}@example.com`, 'whatever123');
    const longPassword = await signInFrom('192.0.2.20', 'somebody', 'p'.repeat(129));
    expect(longLogin.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.login' });
    expect(longPassword.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.password',
    });
  });

  it('should never put the login a client typed into a store key', async () => {
    const take = vi.spyOn(h.kv, 'takeTokens');
    try {
      await signInFrom('192.0.2.30', 'Nobody.Typed.This@Example.com');
      const { input } = await signUp();
      await signInFrom('192.0.2.30', input.username);
      const keys = take.mock.calls.map(([key]) => key);
      expect(keys).toHaveLength(4);
      for (const key of keys) {
        expect(key.toLowerCase()).not.toContain('nobody.typed.this');
        expect(key).not.toContain(input.username);
      }
    } finally {
      take.mockRestore();
    }
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

    const all = (await h.request(REVOCATIONS, { since: null }, TEST_SERVICE)).body.data!.sessionRevocations;
    const listed = all.sessions.find((s: { sessionId: string }) => s.sessionId === signedOut.sessionId);
    expect(listed).toBeDefined();
    const lifetime = Date.parse(listed.expiresAt) - Date.parse(listed.revokedAt);
    expect(lifetime).toBe(h.config.ACCESS_TOKEN_TTL_SECONDS * 1000);
    expect(all.sessions.map((s: { sessionId: string }) => s.sessionId)).not.toContain(active.sessionId);

    const since = (await h.request(REVOCATIONS, { since: before.toISOString() }, TEST_SERVICE)).body.data!
      .sessionRevocations;
    expect(since.sessions.map((s: { sessionId: string }) => s.sessionId)).toContain(signedOut.sessionId);
    const after = (await h.request(REVOCATIONS, { since: all.asOf }, TEST_SERVICE)).body.data!.sessionRevocations;
    expect(after.sessions.map((s: { sessionId: string }) => s.sessionId)).not.toContain(signedOut.sessionId);
  });

  it('should leave out revocations whose access tokens have all expired', async () => {
    const identity = await identityOf((await signUp()).payload.accessToken);
    await h.request('mutation { signOut }', {}, identity);
    const expired = new Date(Date.now() - h.config.ACCESS_TOKEN_TTL_SECONDS * 1000 - 1_000);
    await h.db.session.update({ where: { id: identity.sessionId }, data: { revokedAt: expired } });
    const all = (await h.request(REVOCATIONS, { since: null }, TEST_SERVICE)).body.data!.sessionRevocations;
    expect(all.sessions.map((s: { sessionId: string }) => s.sessionId)).not.toContain(identity.sessionId);
  });
});

describe('accountStates (internal, for replicas)', () => {
  it('should answer existence, privacy and version of users, leaving out unknown ids', async () => {
    const { payload } = await signUp();
    const id = payload.user.id as string;
    const res = await h.request(
      'query($ids: [ID!]!) { accountStates(ids: $ids) { userId isPrivate updatedAt } }',
      {
        ids: [id, '00000000-0000-4000-8000-000000000000', 'not-an-id'],
      },
      TEST_SERVICE,
    );
    expect(res.body.data!.accountStates).toEqual([{ userId: id, isPrivate: false, updatedAt: expect.any(String) }]);
  });
});
