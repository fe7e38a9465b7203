import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADER, signIdentity, verifyAccessToken, type Identity } from '@insta/infra';
import { postGraphQL, TEST_SECRETS } from '@insta/infra/testing';
import { newUser, SIGN_UP, startUsersHarness, type UsersHarness } from './harness.ts';

let h: UsersHarness;
beforeAll(async () => {
  h = await startUsersHarness();
});
afterAll(async () => {
  await h.stop();
});

async function createUser(overrides: Parameters<typeof newUser>[0] = {}) {
  const res = await h.request(SIGN_UP, { input: newUser(overrides) });
  const payload = res.body.data!.signUp;
  const verified = await verifyAccessToken(TEST_SECRETS.JWT_SECRET, payload.accessToken);
  if (!verified.ok) throw new Error('token');
  return { user: payload.user as { id: string; username: string }, identity: verified.identity as Identity };
}

const SEARCH = /* GraphQL */ `
  query Search($q: String!, $first: Int, $after: String) {
    searchUsers(query: $q, first: $first, after: $after) { edges { cursor node { username displayName } } pageInfo { hasNextPage endCursor } }
  }`;

describe('gateway signature', () => {
  it('should answer 401 to a request without the gateway signature', async () => {
    const res = await postGraphQL(h.server.url, '{ me { id } }');
    expect(res.status).toBe(401);
  });

  it('should answer 401 to a forged or stale signature', async () => {
    const forged = signIdentity('another-secret-another-secret-another-secret', null);
    expect((await postGraphQL(h.server.url, '{ me { id } }', {}, { [IDENTITY_HEADER]: forged })).status).toBe(401);
    const stale = signIdentity(TEST_SECRETS.GATEWAY_SIGNING_SECRET, null, Date.now() - 5 * 60_000);
    expect((await postGraphQL(h.server.url, '{ me { id } }', {}, { [IDENTITY_HEADER]: stale })).status).toBe(401);
  });

  it('should serve health and readiness without a signature', async () => {
    const base = h.server.url.replace('/graphql', '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, checks: { postgres: 'ok', redis: 'ok', nats: 'ok' } });
  });
});

describe('queries', () => {
  it('should return null for me when not signed in', async () => {
    expect((await h.request('{ me { id } }')).body.data).toEqual({ me: null });
  });

  it('should look a user up by id or by username', async () => {
    const { user } = await createUser();
    const byId = await h.request('query($id: ID) { user(id: $id) { username } }', { id: user.id });
    expect(byId.body.data!.user.username).toBe(user.username);
    const byName = await h.request('query($u: String) { user(username: $u) { id } }', { u: user.username.toUpperCase() });
    expect(byName.body.data!.user.id).toBe(user.id);
    const unknown = await h.request('query { user(id: "not-a-uuid") { id } }');
    expect(unknown.body.data).toEqual({ user: null });
  });

  it('should reject user() with both or neither argument', async () => {
    for (const q of ['{ user { id } }', '{ user(id: "x", username: "y") { id } }']) {
      expect((await h.request(q)).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('should resolve user references in one batch', async () => {
    const a = await createUser();
    const b = await createUser();
    const res = await h.request(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id username } } }',
      { r: [{ __typename: 'User', id: b.user.id }, { __typename: 'User', id: a.user.id }, { __typename: 'User', id: '00000000-0000-7000-8000-000000000000' }] },
    );
    expect(res.body.data!._entities).toEqual([
      { id: b.user.id, username: b.user.username },
      { id: a.user.id, username: a.user.username },
      null,
    ]);
  });
});

describe('updateProfile', () => {
  it('should update the caller profile and return it', async () => {
    const { identity } = await createUser();
    const res = await h.request(
      'mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { displayName bio isPrivate avatar { id } } }',
      { i: { displayName: 'New Name', bio: 'hello', isPrivate: true, avatarMediaId: '018f0000-0000-7000-8000-000000000001' } },
      identity,
    );
    expect(res.body.data!.updateProfile).toEqual({
      displayName: 'New Name',
      bio: 'hello',
      isPrivate: true,
      avatar: { id: '018f0000-0000-7000-8000-000000000001' },
    });
  });

  it('should reject bad input naming the field and change nothing', async () => {
    const { identity, user } = await createUser();
    const res = await h.request('mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { bio } }', { i: { bio: 'x'.repeat(301), displayName: 'Changed' } }, identity);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.bio' });
    expect((await h.db.user.findUniqueOrThrow({ where: { id: user.id } })).displayName).not.toBe('Changed');
  });

  it('should require a signed-in caller', async () => {
    const res = await h.request('mutation { updateProfile(input: { bio: "x" }) { id } }');
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('searchUsers', () => {
  const tag = `s${Date.now().toString(36)}`;
  beforeAll(async () => {
    await createUser({ username: `${tag}`, displayName: 'Exact Match' });
    await createUser({ username: `${tag}_b`, displayName: 'Second Prefix' });
    await createUser({ username: `${tag}_a`, displayName: 'First Prefix' });
    await createUser({ username: `zz_${tag}`, displayName: `Ana ${tag}son` });
    await createUser({ username: `yy_${tag}`, displayName: 'Unrelated' });
  });

  it('should rank the exact username first, then username prefixes, then display-name word prefixes', async () => {
    const res = await h.request(SEARCH, { q: tag.toUpperCase() });
    expect(res.body.data!.searchUsers.edges.map((e: { node: { username: string } }) => e.node.username)).toEqual([
      tag,
      `${tag}_a`,
      `${tag}_b`,
      `zz_${tag}`,
    ]);
  });

  it('should page with cursors without gaps or repeats', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res: any = await h.request(SEARCH, { q: tag, first: 1, after });
      const page = res.body.data!.searchUsers;
      seen.push(...page.edges.map((e: { node: { username: string } }) => e.node.username));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([tag, `${tag}_a`, `${tag}_b`, `zz_${tag}`]);
  });

  it('should treat LIKE wildcards in the query literally', async () => {
    const res = await h.request(SEARCH, { q: '%' });
    expect(res.body.data!.searchUsers.edges).toEqual([]);
  });

  it('should reject a forged cursor, a cursor from another search and first over 100', async () => {
    const first = await h.request(SEARCH, { q: tag, first: 1 });
    const cursor = first.body.data!.searchUsers.pageInfo.endCursor;
    const cases = [
      { q: tag, after: 'forged' },
      { q: `${tag}_a`, after: cursor },
      { q: tag, first: 101 },
      { q: '   ' },
    ];
    for (const variables of cases) {
      expect((await h.request(SEARCH, variables)).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('should be served by the trigram indexes rather than a sequential scan', async () => {
    const plan = await h.db.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(
        `EXPLAIN SELECT id FROM users.users WHERE username LIKE 'ana%' OR display_name ILIKE 'ana%' OR display_name ILIKE '% ana%'`,
      );
    });
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toContain('users_username_trgm_idx');
    expect(text).toContain('users_display_name_trgm_idx');
    expect(text).not.toContain('Seq Scan');
  });
});

describe('usersByUsernames (internal)', () => {
  it('should return the existing users among the names, case-insensitively, once each', async () => {
    const a = await createUser();
    const b = await createUser();
    const res = await h.request('query($n: [String!]!) { usersByUsernames(usernames: $n) { id } }', {
      n: [a.user.username.toUpperCase(), b.user.username, a.user.username, 'nobody_by_this_name'],
    });
    expect(res.body.data!.usersByUsernames.map((u: { id: string }) => u.id).sort()).toEqual([a.user.id, b.user.id].sort());
  });

  it('should not be part of the public API', async () => {
    const { readFile } = await import('node:fs/promises');
    const supergraph = await readFile(new URL('../../../schema/supergraph.graphql', import.meta.url), 'utf8');
    expect(supergraph).toMatch(/usersByUsernames\(usernames: \[String!\]!\): \[User!\]! @inaccessible/);
  });
});
