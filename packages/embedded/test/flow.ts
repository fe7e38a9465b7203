import { expect } from 'vitest';
import { postGraphQL } from '@insta/infra/testing';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * The walking-skeleton round trip through the gateway: signUp → me → signIn → refreshToken → searchUsers,
 * with fields from several subgraphs in one query, then signOut. Returns the user id.
 */
export async function accountRoundTrip(gatewayUrl: string, tag: string) {
  const input = {
    username: `e2e_${tag}`,
    email: `e2e_${tag}@example.com`,
    password: 'a long enough password',
    displayName: `End To End ${tag}`,
  };
  const signUp = await postGraphQL(
    gatewayUrl,
    'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken user { id username } } }',
    { i: input },
  );
  expect(signUp.body.errors).toBeUndefined();
  const { accessToken, refreshToken, user } = signUp.body.data!.signUp as {
    accessToken: string;
    refreshToken: string;
    user: { id: string };
  };

  const me = await postGraphQL(
    gatewayUrl,
    '{ me { id username displayName followerCount followingCount } }',
    {},
    auth(accessToken),
  );
  expect(me.body).toEqual({
    data: {
      me: {
        id: user.id,
        username: input.username,
        displayName: input.displayName,
        followerCount: 0,
        followingCount: 0,
      },
    },
  });

  const signIn = await postGraphQL(
    gatewayUrl,
    'mutation($i: SignInInput!) { signIn(input: $i) { accessToken user { id } } }',
    {
      i: { login: input.email, password: input.password },
    },
  );
  expect((signIn.body.data!.signIn as { user: { id: string } }).user.id).toBe(user.id);

  const refreshed = await postGraphQL(
    gatewayUrl,
    'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }',
    { t: refreshToken },
  );
  expect(refreshed.body.errors).toBeUndefined();
  const newAccess = (refreshed.body.data!.refreshToken as { accessToken: string }).accessToken;

  const search = await postGraphQL(
    gatewayUrl,
    'query($q: String!) { searchUsers(query: $q, first: 5) { edges { node { id username } } } }',
    { q: `e2e_${tag}` },
    auth(newAccess),
  );
  expect(search.body.data).toEqual({ searchUsers: { edges: [{ node: { id: user.id, username: input.username } }] } });

  const signOut = await postGraphQL(gatewayUrl, 'mutation { signOut }', {}, auth(newAccess));
  expect(signOut.body.data).toEqual({ signOut: true });
  const afterSignOut = await postGraphQL(gatewayUrl, '{ me { id } }', {}, auth(newAccess));
  expect(afterSignOut.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  return user.id;
}

export async function expectExplorer(gatewayUrl: string) {
  const res = await fetch(gatewayUrl, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/html');
  expect(await res.text()).toMatch(/graphiql/i);
}

/** An account as `signUp` answers it. */
export interface Account {
  accessToken: string;
  refreshToken: string;
  user: { id: string; username: string };
}

/**
 * What an e2e test does through a gateway, each call asserting that the answer has no errors. `gatewayUrl` is read
 * on each call (the system starts in `beforeAll`); `url` points one call at another gateway instance.
 */
export function apiClient(gatewayUrl: () => string) {
  const gql = async (query: string, variables: Record<string, unknown> = {}, token?: string, url?: string) => {
    const res = await postGraphQL(url ?? gatewayUrl(), query, variables, token ? auth(token) : {});
    expect(res.body.errors).toBeUndefined();
    return res.body.data as Record<string, any>;
  };
  const signUp = async (username: string): Promise<Account> =>
    (
      await gql('mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken user { id username } } }', {
        i: { username, email: `${username}@example.com`, password: 'a long enough password' },
      })
    ).signUp as Account;
  const createPost = async (author: Account, text: string) =>
    (await gql('mutation($i: CreatePostInput!) { createPost(input: $i) { id } }', { i: { text } }, author.accessToken))
      .createPost.id as string;
  const like = (who: Account, postId: string, url?: string) =>
    gql('mutation($id: ID!) { likePost(postId: $id) { id } }', { id: postId }, who.accessToken, url);
  const follow = async (who: Account, whom: Account) => {
    await gql('mutation($id: ID!) { follow(userId: $id) }', { id: whom.user.id }, who.accessToken);
  };
  return { gql, signUp, createPost, like, follow };
}
