import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL, type GraphQLResponse } from '@insta/infra/testing';
import { startRealSystem, type RealSystem } from './real-system.ts';

/**
 * The gateway edge of issue #13 on the whole system: limits, sign-in buckets and input hygiene against the real
 * subgraphs. Every request comes from 127.0.0.1, so the `auth` bucket (6 per 10 min here) is shared by the tests
 * below, in order: 2 sign-ups, 3 sign-ins, 1 sign-up, then the refusal.
 */
describe('security at the edge of the whole system', () => {
  let real: RealSystem;
  let url: string;
  const gql = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
    postGraphQL(url, query, variables, token ? { authorization: `Bearer ${token}` } : {});
  const codes = (res: { body: GraphQLResponse }) => res.body.errors?.map((e) => e.extensions?.code);
  const SIGN_UP = 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }';
  const SIGN_IN = 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }';
  const account = (name: string) => ({
    username: name,
    email: `${name}@example.com`,
    password: 'a long enough password',
  });
  const signUp = async (name: string) => {
    const res = await gql(SIGN_UP, { i: account(name) });
    expect(res.body.errors).toBeUndefined();
    return (res.body.data!.signUp as { accessToken: string }).accessToken;
  };
  const userExists = async (name: string) =>
    ((await gql('query($u: String!) { user(username: $u) { id } }', { u: name })).body.data?.user ?? null) !== null;

  beforeAll(async () => {
    real = await startRealSystem('security-e2e', { RATE_LIMIT_AUTH: '6/600', SIGN_IN_MAX_ATTEMPTS: '2' });
    url = real.system.gatewayUrl;
  });
  afterAll(async () => {
    await real?.stop();
  });

  it('should refuse a NUL character in a post with BAD_USER_INPUT and create nothing', async () => {
    const token = await signUp('sec_author');
    const res = await gql(
      'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
      { i: { text: 'a\u0000b' } },
      token,
    );
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'i.text' });
    const posts = await gql('{ me { posts { edges { node { id } } } } }', {}, token);
    expect(posts.body.data).toEqual({ me: { posts: { edges: [] } } });
  });

  it('should refuse nested default pages whose product is over MAX_COST', async () => {
    const token = await signUp('sec_reader');
    const res = await gql(
      '{ feed { edges { node { comments { edges { node { replies { edges { node { id } } } } } } } } } }',
      {},
      token,
    );
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['OPERATION_LIMIT_EXCEEDED']);
  });

  it('should count signing in by e-mail in the bucket the username used', async () => {
    for (let i = 0; i < 2; i++) {
      expect(codes(await gql(SIGN_IN, { i: { login: 'sec_reader', password: 'not the password' } }))).toEqual([
        'UNAUTHENTICATED',
      ]);
    }
    const byEmail = await gql(SIGN_IN, { i: { login: 'SEC_READER@example.com', password: 'a long enough password' } });
    expect(codes(byEmail)).toEqual(['RATE_LIMITED']);
    expect(byEmail.body.errors?.[0]?.message).toMatch(/sign-in attempts/);
  });

  it('should limit sign-ups per address and create no account when refusing', async () => {
    await signUp('sec_sixth');
    const refused = await gql(SIGN_UP, { i: account('sec_seventh') });
    expect(refused.status).toBe(429);
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(await userExists('sec_seventh')).toBe(false);
    expect(await userExists('sec_sixth')).toBe(true);
  });
});
