import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { deleteKeysByPrefix, postGraphQL, testServices } from '@insta/infra/testing';
import { startRealSystem, type RealSystem } from './real-system.ts';

interface Account {
  accessToken: string;
  user: { id: string; username: string };
}

const SIGN_UP = 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id username } } }';
const auth = (account: Account) => ({ authorization: `Bearer ${account.accessToken}` });

let e2e: RealSystem;
let gatewayUrl: string;
let counter = 0;

async function signUp(tag: string): Promise<Account> {
  const name = `${tag}_${process.pid.toString(36)}_${++counter}`;
  const res = await postGraphQL(gatewayUrl, SIGN_UP, {
    i: { username: name, email: `${name}@example.com`, password: 'a long enough password' },
  });
  expect(res.body.errors).toBeUndefined();
  return res.body.data!.signUp as Account;
}

/** Whether a websocket authenticated as `account` is accepted: resolves with the close code, or 'open'. */
async function socketOutcome(account: Account): Promise<number | 'open'> {
  let closeCode: number | undefined;
  const client = createClient({
    url: gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: auth(account),
    on: { closed: (event) => void (closeCode = (event as { code: number }).code) },
  });
  const outcome = await new Promise<number | 'open'>((resolve) => {
    client.subscribe(
      { query: '{ me { id } }' },
      {
        next: () => resolve('open'),
        error: () => resolve(closeCode ?? -1),
        complete: () => resolve('open'),
      },
    );
  });
  await client.dispose();
  return outcome;
}

beforeAll(async () => {
  e2e = await startRealSystem('resilience', { RATE_LIMIT_AUTH: '5000/60' });
  gatewayUrl = e2e.system.gatewayUrl;
});
afterAll(() => e2e?.stop());

describe('a user who has just signed up', () => {
  it('should be followable at once, even by 20 others signing up at the same moment', async () => {
    const follower = await signUp('fan');
    const newcomers = await Promise.all(Array.from({ length: 20 }, (_, i) => signUp(`new${i}`)));
    const follows = await Promise.all(
      newcomers.map((n) =>
        postGraphQL(gatewayUrl, 'mutation($id: ID!) { follow(userId: $id) }', { id: n.user.id }, auth(follower)),
      ),
    );
    expect(follows.map((f) => f.body)).toEqual(newcomers.map(() => ({ data: { follow: 'FOLLOWING' } })));
    // And the other way round: each newcomer follows at once someone who also just signed up.
    const others = await Promise.all(newcomers.map((_, i) => signUp(`other${i}`)));
    const back = await Promise.all(
      newcomers.map((n, i) =>
        postGraphQL(gatewayUrl, 'mutation($id: ID!) { follow(userId: $id) }', { id: others[i]!.user.id }, auth(n)),
      ),
    );
    expect(back.map((f) => f.body)).toEqual(newcomers.map(() => ({ data: { follow: 'FOLLOWING' } })));
  });

  it('should be mentionable at once, and their posts visible', async () => {
    const [author, mentioned] = await Promise.all([signUp('author'), signUp('mentioned')]);
    const created = await postGraphQL(
      gatewayUrl,
      'mutation($i: CreatePostInput!) { createPost(input: $i) { id mentions { id username } } }',
      { i: { text: `hello @${mentioned.user.username}` } },
      auth(author),
    );
    expect(created.body.errors).toBeUndefined();
    const post = created.body.data!.createPost as { id: string; mentions: { id: string }[] };
    expect(post.mentions).toEqual([{ id: mentioned.user.id, username: mentioned.user.username }]);
    const seen = await postGraphQL(gatewayUrl, 'query($id: ID!) { post(id: $id) { id } }', { id: post.id });
    expect(seen.body).toEqual({ data: { post: { id: post.id } } });
  });
});

describe('a signed-out session', () => {
  it('should stay signed out over HTTP and websockets after the deployment loses its Redis keys', async () => {
    const account = await signUp('leaver');
    expect((await postGraphQL(gatewayUrl, '{ me { id } }', {}, auth(account))).status).toBe(200);
    expect(await socketOutcome(account)).toBe('open');
    const signOut = await postGraphQL(gatewayUrl, 'mutation { signOut }', {}, auth(account));
    expect(signOut.body).toEqual({ data: { signOut: true } });

    expect(await deleteKeysByPrefix(testServices.redisUrl, `${e2e.prefix}:`)).toBeGreaterThan(0);

    const me = await postGraphQL(gatewayUrl, '{ me { id } }', {}, auth(account));
    expect(me.status).toBe(401);
    expect(me.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await socketOutcome(account)).toBe(4403);
    // Sessions that were not signed out keep working.
    const stayer = await signUp('stayer');
    expect((await postGraphQL(gatewayUrl, '{ me { id } }', {}, auth(stayer))).body).toEqual({
      data: { me: { id: stayer.user.id } },
    });
  });
});
