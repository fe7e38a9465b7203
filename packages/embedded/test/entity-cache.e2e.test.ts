import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createPrismaClient } from '@insta/db';
import { createGatewayServer, loadGatewayConfig, RedisEntityCacheStore, type GatewayServer } from '@insta/gateway';
import {
  connectNats,
  connectRedis,
  entityCacheHits,
  NatsEventBus,
  RedisKeyValueStore,
  type EventBus,
  type KeyValueStore,
} from '@insta/infra';
import { postGraphQL, silentLogger, testServices, TEST_SECRETS } from '@insta/infra/testing';
import { startRealSystem, type RealSystem } from './real-system.ts';

/**
 * The entity cache (ADR 17) on the real system: gateway A (the system's own) and gateway B, both cache on and
 * sharing Redis and NATS, and gateway C with the cache off, in front of the same subgraphs. A cached gateway must
 * never show a viewer what C (reading the subgraphs fresh) does not: A, which serves every mutation here, at once
 * (read-your-writes), and B as soon as the invalidation reaches it.
 */
const FEED = '{ feed(first: 20) { edges { node { id text likeCount viewerHasLiked author { id username } } } } }';
const NOTIFICATIONS =
  '{ notifications(first: 20) { edges { node { type post { id text likeCount } comment { id text } } } } }';
const POST_LIKED =
  'subscription($postId: ID!) { postLiked(postId: $postId) { likeCount post { id text likeCount viewerHasLiked } } }';
/** How long B may lag A: the event's way through the outbox and NATS, or one generation TTL (1 s here). */
const CONVERGE = { timeout: 10_000, interval: 50 };

type Data = Record<string, any>;

describe('the entity cache on two gateways, on the real Postgres, Redis and NATS', () => {
  let real: RealSystem;
  const extra: { gateway: GatewayServer; kv: KeyValueStore; bus: EventBus; close: () => Promise<void> }[] = [];
  let urls: { A: string; B: string; C: string };

  async function startGateway(cache: 'on' | 'off') {
    const redis = await connectRedis(testServices.redisUrl);
    const kv = new RedisKeyValueStore(redis, `${real.prefix}:`);
    const bus = new NatsEventBus(await connectNats(testServices.natsUrl, 'gateway-b'), real.prefix, silentLogger);
    const gateway = await createGatewayServer({
      config: loadGatewayConfig({
        ...TEST_SECRETS,
        ...real.system.subgraphUrls,
        NODE_ENV: 'test',
        PORT: '0',
        EXPLORER: 'false',
        ENTITY_CACHE: cache,
        ENTITY_CACHE_GENERATION_TTL_MS: '1000',
      }),
      kv,
      bus,
      logger: silentLogger,
      entityCacheStore: new RedisEntityCacheStore(redis, `${real.prefix}:ec:`),
    });
    extra.push({
      gateway,
      kv,
      bus,
      close: async () => {
        await gateway.stop();
        await bus.close();
        await kv.close();
      },
    });
    return gateway.url;
  }

  beforeAll(async () => {
    real = await startRealSystem('entity-cache', { ...TEST_SECRETS, ENTITY_CACHE: 'on' });
    urls = { A: real.system.gatewayUrl, B: await startGateway('on'), C: await startGateway('off') };
  });
  afterAll(async () => {
    for (const started of extra) await started.close();
    await real?.stop();
  });

  const call = (url: string, query: string, variables: Record<string, unknown> = {}, token?: string) =>
    postGraphQL<Data>(url, query, variables, token ? { authorization: `Bearer ${token}` } : {});
  const gql = async (url: string, query: string, variables: Record<string, unknown> = {}, token?: string) => {
    const res = await call(url, query, variables, token);
    expect(res.body.errors).toBeUndefined();
    return res.body.data!;
  };
  const signUp = async (username: string) => {
    const data = await gql(urls.A, 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }', {
      i: { username, email: `${username}@example.com`, password: 'a long enough password' },
    });
    return { token: data.signUp.accessToken as string, id: data.signUp.user.id as string, username };
  };
  type User = Awaited<ReturnType<typeof signUp>>;
  const feedOf = async (url: string, user: User) => (await gql(url, FEED, {}, user.token)).feed.edges;
  const notificationsOf = async (url: string, user: User) =>
    (await gql(url, NOTIFICATIONS, {}, user.token)).notifications.edges;
  const hits = async (tier: 'l1' | 'l2') =>
    (await entityCacheHits.get()).values.filter((v) => v.labels.tier === tier).reduce((sum, v) => sum + v.value, 0);

  /**
   * The uncached gateway shows the change; A (which served the mutation) shows it at once (read-your-writes), and
   * both A and B show what C shows: A as soon as the rest of the system settled (the feed's own asynchronous work,
   * e.g. removing a deleted post from timelines, may land between two reads under load), B within CONVERGE.
   */
  async function expectCachesAgree(read: (url: string) => Promise<unknown>, expected?: (fresh: unknown) => void) {
    const fresh = await read(urls.C);
    expected?.(fresh);
    const atOnce = await read(urls.A);
    if (expected) expected(atOnce);
    else expect(atOnce).toEqual(fresh);
    await vi.waitFor(async () => expect(await read(urls.A)).toEqual(await read(urls.C)), CONVERGE);
    await vi.waitFor(async () => expect(await read(urls.B)).toEqual(await read(urls.C)), CONVERGE);
  }

  let alice: User, bob: User, carol: User, dave: User;
  let first: string, second: string;

  it('should serve repeated reads of entities from L1 and, on the other gateway, from Redis', async () => {
    [alice, bob, carol, dave] = [
      await signUp('ec_alice'),
      await signUp('ec_bob'),
      await signUp('ec_carol'),
      await signUp('ec_dave'),
    ];
    for (const follower of [bob, dave])
      await gql(urls.A, 'mutation($id: ID!) { follow(userId: $id) }', { id: alice.id }, follower.token);
    const post = async (text: string) =>
      (await gql(urls.A, 'mutation($t: String) { createPost(input: { text: $t }) { id } }', { t: text }, alice.token))
        .createPost.id as string;
    first = await post('first, hello @ec_carol and @ec_dave');
    second = await post('second');
    await vi.waitFor(async () => expect(await feedOf(urls.C, bob)).toHaveLength(2), { timeout: 15_000, interval: 50 });

    await feedOf(urls.A, bob);
    const [l1, l2] = [await hits('l1'), await hits('l2')];
    const again = await feedOf(urls.A, bob);
    expect(await hits('l1')).toBeGreaterThan(l1);
    expect(await feedOf(urls.B, bob)).toEqual(again);
    expect(await hits('l2')).toBeGreaterThan(l2);

    // Changed behind the posts subgraph's back (no event): only the uncached gateway reads it.
    const db = createPrismaClient({ url: real.database.url, poolSize: 1 });
    try {
      await db.$executeRaw`UPDATE posts.posts SET text = 'changed unseen' WHERE id = ${second}::uuid`;
    } finally {
      await db.$disconnect();
    }
    const text = (edges: Data[], id: string) => edges.find((e) => e.node?.id === id)?.node.text;
    expect(text(await feedOf(urls.A, bob), second)).toBe('second');
    expect(text(await feedOf(urls.B, bob), second)).toBe('second');
    expect(text(await feedOf(urls.C, bob), second)).toBe('changed unseen');
  });

  it('should show an edit at once on the gateway that served it and soon on the other', async () => {
    await gql(
      urls.A,
      'mutation($id: ID!) { editPost(id: $id, input: { text: "second, edited" }) { id } }',
      {
        id: second,
      },
      alice.token,
    );
    await expectCachesAgree(
      (url) => feedOf(url, bob),
      (fresh) => expect((fresh as Data[]).map((e) => e.node.text)).toContain('second, edited'),
    );
  });

  it('should keep viewerHasLiked per viewer and show a like at once', async () => {
    await feedOf(urls.A, dave);
    await gql(urls.A, 'mutation($id: ID!) { likePost(postId: $id) { id } }', { id: first }, bob.token);
    for (const viewer of [bob, dave])
      await expectCachesAgree(
        (url) => feedOf(url, viewer),
        (fresh) =>
          expect((fresh as Data[]).find((e) => e.node.id === first)?.node).toMatchObject({
            likeCount: 1,
            viewerHasLiked: viewer === bob,
          }),
      );
  });

  it('should give identical answers with the cache off', async () => {
    for (const viewer of [alice, bob, carol, dave]) {
      for (const query of [FEED, NOTIFICATIONS]) {
        const fresh = await call(urls.C, query, {}, viewer.token);
        expect((await call(urls.A, query, {}, viewer.token)).body).toEqual(fresh.body);
        expect((await call(urls.A, query, {}, viewer.token)).body).toEqual(fresh.body);
        await vi.waitFor(
          async () => expect((await call(urls.B, query, {}, viewer.token)).body).toEqual(fresh.body),
          CONVERGE,
        );
      }
    }
  });

  it('should hide a post from a viewer who is no longer allowed once its account turned private', async () => {
    // carol, mentioned, sees the post through her notification (an `_entities` fetch of posts), on A and B.
    await vi.waitFor(
      async () => {
        const edges = await notificationsOf(urls.C, carol);
        expect(edges.map((e: Data) => e.node.post?.id)).toContain(first);
      },
      { timeout: 15_000, interval: 50 },
    );
    await notificationsOf(urls.A, carol);
    await notificationsOf(urls.B, carol);

    await gql(urls.A, 'mutation { updateProfile(input: { isPrivate: true }) { id } }', {}, alice.token);
    // The posts subgraph follows the change once social-graph's replica has it: wait for the uncached answer.
    await vi.waitFor(
      async () => {
        const edges = await notificationsOf(urls.C, carol);
        expect(edges.map((e: Data) => e.node.post?.id ?? null)).not.toContain(first);
      },
      { timeout: 15_000, interval: 50 },
    );
    await expectCachesAgree((url) => notificationsOf(url, carol));
    // bob and dave still follow: they still see both posts.
    for (const viewer of [bob, dave])
      await expectCachesAgree(
        (url) => feedOf(url, viewer),
        (fresh) => expect((fresh as Data[]).filter((e) => e.node)).toHaveLength(2),
      );
  });

  it('should hide the posts of a private account from a follower who unfollowed', async () => {
    // dave, mentioned and a follower, sees the post through his notification too, on A and B.
    await vi.waitFor(
      async () => expect((await notificationsOf(urls.C, dave)).map((e: Data) => e.node.post?.id)).toContain(first),
      { timeout: 15_000, interval: 50 },
    );
    await notificationsOf(urls.A, dave);
    await notificationsOf(urls.B, dave);
    await gql(urls.A, 'mutation($id: ID!) { unfollow(userId: $id) }', { id: alice.id }, dave.token);
    await expectCachesAgree(
      (url) => notificationsOf(url, dave),
      (fresh) => expect((fresh as Data[]).map((e) => e.node.post?.id ?? null)).not.toContain(first),
    );
    await expectCachesAgree(
      (url) => feedOf(url, dave),
      (fresh) => expect((fresh as Data[]).filter((e) => e.node)).toHaveLength(0),
    );
  });

  it('should show a private account’s posts to a follower it approved', async () => {
    await gql(urls.A, 'mutation($id: ID!) { follow(userId: $id) }', { id: alice.id }, carol.token);
    await gql(urls.A, 'mutation($id: ID!) { approveFollowRequest(userId: $id) }', { id: carol.id }, alice.token);
    await vi.waitFor(async () => expect(await feedOf(urls.C, carol)).toHaveLength(2), {
      timeout: 15_000,
      interval: 50,
    });
    await expectCachesAgree(
      (url) => feedOf(url, carol),
      (fresh) => expect((fresh as Data[]).filter((e) => e.node)).toHaveLength(2),
    );
  });

  it('should deliver subscription events with their entities as fresh as the event', async () => {
    const gatewayB = extra[0]!.gateway;
    const client = createClient({
      url: urls.B.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${carol.token}` },
    });
    const results: Data[] = [];
    const stop = client.subscribe(
      { query: POST_LIKED, variables: { postId: second } },
      { next: (result) => void results.push(result), error: () => undefined, complete: () => undefined },
    );
    try {
      await vi.waitFor(() => expect(gatewayB.openSubscriptions()).toBe(1), { timeout: 5_000 });
      const like = (who: User) =>
        gql(urls.A, 'mutation($id: ID!) { likePost(postId: $id) { id } }', { id: second }, who.token);
      await like(alice);
      await vi.waitFor(() => expect(results).toHaveLength(1), CONVERGE);
      expect(results[0]).toEqual({
        data: {
          postLiked: {
            likeCount: 1,
            post: { id: second, text: 'second, edited', likeCount: 1, viewerHasLiked: false },
          },
        },
      });
      // Edited through A, liked again: B delivers the like with the post as it is now, count included.
      await gql(
        urls.A,
        'mutation($id: ID!) { editPost(id: $id, input: { text: "second, again" }) { id } }',
        {
          id: second,
        },
        alice.token,
      );
      await like(bob);
      await vi.waitFor(() => expect(results).toHaveLength(2), CONVERGE);
      expect(results[1]).toEqual({
        data: {
          postLiked: { likeCount: 2, post: { id: second, text: 'second, again', likeCount: 2, viewerHasLiked: false } },
        },
      });
    } finally {
      stop();
      await client.dispose();
    }
  });

  it('should hide a comment once deleted and a post once its author blocked the viewer', async () => {
    const comment = (
      await gql(
        urls.A,
        'mutation($p: ID!) { addComment(input: { postId: $p, text: "nice" }) { id } }',
        {
          p: second,
        },
        bob.token,
      )
    ).addComment.id as string;
    await vi.waitFor(
      async () => {
        const edges = await notificationsOf(urls.C, alice);
        expect(edges.map((e: Data) => e.node.comment?.id)).toContain(comment);
      },
      { timeout: 15_000, interval: 50 },
    );
    await notificationsOf(urls.A, alice);
    await notificationsOf(urls.B, alice);
    await gql(urls.A, 'mutation($id: ID!) { deleteComment(id: $id) }', { id: comment }, bob.token);
    await expectCachesAgree(
      (url) => notificationsOf(url, alice),
      (fresh) => expect((fresh as Data[]).map((e) => e.node.comment?.id ?? null)).not.toContain(comment),
    );

    await feedOf(urls.B, bob);
    await gql(urls.A, 'mutation($id: ID!) { block(userId: $id) }', { id: bob.id }, alice.token);
    await expectCachesAgree(
      (url) => feedOf(url, bob),
      (fresh) => expect((fresh as Data[]).filter((e) => e.node)).toHaveLength(0),
    );
  });

  it('should drop a deleted post for every viewer', async () => {
    await feedOf(urls.B, carol);
    await gql(urls.A, 'mutation($id: ID!) { deletePost(id: $id) }', { id: first }, alice.token);
    await expectCachesAgree(
      (url) => feedOf(url, carol),
      (fresh) => expect((fresh as Data[]).map((e) => e.node?.id ?? null)).not.toContain(first),
    );
  });
});
