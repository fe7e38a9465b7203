import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { FeedSubjects, PostsSubjects } from '@insta/events';
import { createGatewayServer, loadGatewayConfig, type GatewayServer } from '@insta/gateway';
import { NatsEventBus, RedisKeyValueStore, connectNats, connectRedis } from '@insta/infra';
import { postGraphQL, silentLogger, testServices } from '@insta/infra/testing';
import type { RunningSystem } from '../src/system.ts';
import { apiClient, type Account } from './flow.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

type Result = FormattedExecutionResult<Record<string, any>, unknown>;

interface Subscription {
  results: Result[];
  error?: unknown;
  stop(): void;
}

const secrets = {
  JWT_SECRET: 'shared-subscriptions-jwt-secret-0123456789abcdef',
  GATEWAY_SIGNING_SECRET: 'shared-subscriptions-signing-secret-0123456789',
};

const LIKED = /* GraphQL */ `
  subscription Liked($postId: ID!) {
    postLiked(postId: $postId) {
      likeCount
      user {
        username
      }
      post {
        id
        likeCount
        viewerHasLiked
        author {
          username
        }
      }
    }
  }
`;

describe('subscriptions shared across viewers (ADR 15), on the real Postgres, Redis and NATS', () => {
  let real: RealSystem;
  let system: RunningSystem;
  let bus: NatsEventBus;
  let kv: RedisKeyValueStore;
  // A gateway of our own (we count its open subscriptions), on the system's subgraphs.
  let gateway: GatewayServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    // The file signs up more than the default auth limit (20 a minute per address) allows; limits are tested elsewhere.
    real = await startRealSystem('shared-subs', { ...secrets, RATE_LIMIT_AUTH: '5000/60' });
    system = real.system;
    bus = new NatsEventBus(await connectNats(testServices.natsUrl, 'shared-subs-e2e'), real.prefix, silentLogger);
    kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), `${real.prefix}:`);
    gateway = await createGatewayServer({
      config: loadGatewayConfig({ ...secrets, ...system.subgraphUrls, PORT: '0', LOG_LEVEL: 'silent' }),
      kv,
      bus,
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await gateway?.stop();
    await bus?.close();
    await kv?.close();
    await real?.stop();
  });

  const { gql, signUp, createPost, like, follow } = apiClient(() => system.gatewayUrl);

  const subscribe = async (token: string | undefined, query: string, variables: Record<string, unknown> = {}) => {
    const client = createClient({
      url: gateway.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
    });
    clients.push(client);
    const before = gateway.openSubscriptions();
    const subscription: Subscription = { results: [], stop: () => undefined };
    subscription.stop = client.subscribe(
      { query, variables },
      {
        next: (result) => void subscription.results.push(result as Result),
        error: (error) => (subscription.error = error),
        complete: () => undefined,
      },
    );
    await vi.waitFor(
      () => expect(subscription.error !== undefined || gateway.openSubscriptions() > before).toBe(true),
      {
        timeout: 5_000,
      },
    );
    return subscription;
  };
  const waitUntilPrivate = (postId: string) =>
    vi.waitFor(
      async () =>
        expect(
          (await postGraphQL(system.gatewayUrl, 'query($id: ID!) { post(id: $id) { id } }', { id: postId })).body.data
            ?.post ?? null,
        ).toBeNull(),
      { timeout: 10_000 },
    );

  it('should give each viewer of one event the viewerHasLiked a query would give them', async () => {
    const bea = await signUp('sh_bea');
    const ana = await signUp('sh_ana');
    const cyd = await signUp('sh_cyd');
    const dee = await signUp('sh_dee');
    const postId = await createPost(bea, 'Shared light');
    await like(ana, postId);
    const asAna = await subscribe(ana.accessToken, LIKED, { postId });
    const asCyd = await subscribe(cyd.accessToken, LIKED, { postId });
    const asDee = await subscribe(dee.accessToken, LIKED, { postId });
    const anonymous = await subscribe(undefined, LIKED, { postId });

    await like(dee, postId);
    await vi.waitFor(
      () => {
        for (const s of [asAna, asCyd, asDee, anonymous]) expect(s.results).toHaveLength(1);
      },
      { timeout: 10_000 },
    );
    const event = (s: Subscription) => s.results[0]?.data?.postLiked;
    const shared = { likeCount: 2, user: { username: 'sh_dee' } };
    const post = { id: postId, likeCount: 2, author: { username: 'sh_bea' } };
    expect(event(asAna)).toEqual({ ...shared, post: { ...post, viewerHasLiked: true } });
    expect(event(asDee)).toEqual({ ...shared, post: { ...post, viewerHasLiked: true } });
    expect(event(asCyd)).toEqual({ ...shared, post: { ...post, viewerHasLiked: false } });
    expect(event(anonymous)).toEqual({ ...shared, post: { ...post, viewerHasLiked: false } });
    // The same selection as a query, per viewer.
    const asQuery = async (token?: string) =>
      (
        await gql(
          'query($id: ID!) { post(id: $id) { id likeCount viewerHasLiked author { username } } }',
          { id: postId },
          token,
        )
      ).post;
    expect(await asQuery(ana.accessToken)).toEqual(event(asAna).post);
    expect(await asQuery(cyd.accessToken)).toEqual(event(asCyd).post);
    expect(await asQuery()).toEqual(event(anonymous).post);
    for (const s of [asAna, asCyd, asDee, anonymous]) expect(s.results[0]?.errors).toBeUndefined();
  });

  /** A bare graphql-transport-ws socket that keeps every text frame as it arrived. */
  const rawSubscribe = async (token: string | undefined, id: string, query: string, variables: object) => {
    const socket = new WebSocket(gateway.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const frames: string[] = [];
    socket.on('message', (data) => void frames.push(String(data)));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const before = gateway.openSubscriptions();
    socket.send(
      JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }),
    );
    await vi.waitFor(() => expect(frames).toContain('{"type":"connection_ack"}'), { timeout: 5_000 });
    socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    await vi.waitFor(() => expect(gateway.openSubscriptions()).toBeGreaterThan(before), { timeout: 5_000 });
    return { socket, next: () => frames.filter((frame) => frame.includes('"type":"next"')) };
  };

  it('should send each viewer the next message graphql-ws would, with its own id and viewer fields', async () => {
    const bea = await signUp('sh_rbe');
    const ana = await signUp('sh_ran');
    const cyd = await signUp('sh_rcy');
    const dee = await signUp('sh_rde');
    const postId = await createPost(bea, 'Raw frames');
    await like(ana, postId);
    const ids = { ana: 'ana-1', cyd: 'quote " and backslash \\ ✓' };
    const asAna = await rawSubscribe(ana.accessToken, ids.ana, LIKED, { postId });
    const asCyd = await rawSubscribe(cyd.accessToken, ids.cyd, LIKED, { postId });
    await like(dee, postId);
    await vi.waitFor(() => expect([asAna.next().length, asCyd.next().length]).toEqual([1, 1]), { timeout: 10_000 });
    // graphql-ws's message: JSON.stringify({ id, type, payload }), the payload in the selection's field order.
    const expected = (id: string, viewerHasLiked: boolean) =>
      JSON.stringify({
        id,
        type: 'next',
        payload: {
          data: {
            postLiked: {
              likeCount: 2,
              user: { username: 'sh_rde' },
              post: { id: postId, likeCount: 2, viewerHasLiked, author: { username: 'sh_rbe' } },
            },
          },
        },
      });
    expect(asAna.next()[0]).toBe(expected(ids.ana, true));
    expect(asCyd.next()[0]).toBe(expected(ids.cyd, false));
    for (const { socket } of [asAna, asCyd]) socket.close();
  });

  it('should stop delivering to a blocked or unfollowing viewer at the next event of an open subscription', async () => {
    const bea = await signUp('sh_pbe');
    const ana = await signUp('sh_pan');
    const cyd = await signUp('sh_pcy');
    const eve = await signUp('sh_pev');
    await gql('mutation { updateProfile(input: { isPrivate: true }) { id } }', {}, bea.accessToken);
    for (const follower of [ana, cyd]) {
      await follow(follower, bea);
      await gql('mutation($id: ID!) { approveFollowRequest(userId: $id) }', { id: follower.user.id }, bea.accessToken);
    }
    const postId = await createPost(bea, 'Followers only');
    await waitUntilPrivate(postId);
    const selection = 'subscription($postId: ID!) { postLiked(postId: $postId) { likeCount user { username } } }';
    const owner = await subscribe(bea.accessToken, selection, { postId });
    const asAna = await subscribe(ana.accessToken, selection, { postId });
    const asCyd = await subscribe(cyd.accessToken, selection, { postId });
    const asEve = await subscribe(eve.accessToken, selection, { postId });
    const anonymous = await subscribe(undefined, selection, { postId });

    await like(cyd, postId);
    await vi.waitFor(
      () => {
        for (const s of [owner, asAna, asCyd]) expect(s.results).toHaveLength(1);
      },
      { timeout: 10_000 },
    );
    await gql('mutation($id: ID!) { block(userId: $id) }', { id: ana.user.id }, bea.accessToken);
    await gql('mutation($id: ID!) { unfollow(userId: $id) }', { id: bea.user.id }, cyd.accessToken);
    await like(bea, postId);
    // One group, one event: once the owner has it, every member's delivery of it was decided.
    await vi.waitFor(() => expect(owner.results).toHaveLength(2), { timeout: 10_000 });
    expect(owner.results.map((r) => r.data?.postLiked.likeCount)).toEqual([1, 2]);
    expect(asAna.results.map((r) => r.data?.postLiked.likeCount)).toEqual([1]);
    expect(asCyd.results.map((r) => r.data?.postLiked.likeCount)).toEqual([1]);
    expect(asEve.results).toEqual([]);
    expect(anonymous.results).toEqual([]);
  });

  it('should not deliver the likes of a public post to a viewer its author blocked', async () => {
    const bea = await signUp('sh_bbe');
    const ana = await signUp('sh_ban');
    const postId = await createPost(bea, 'Public, but not for Ana');
    const selection = 'subscription($postId: ID!) { postLiked(postId: $postId) { likeCount } }';
    const asAna = await subscribe(ana.accessToken, selection, { postId });
    const anonymous = await subscribe(undefined, selection, { postId });
    await gql('mutation($id: ID!) { block(userId: $id) }', { id: ana.user.id }, bea.accessToken);
    await like(bea, postId);
    await vi.waitFor(() => expect(anonymous.results).toHaveLength(1), { timeout: 10_000 });
    expect(asAna.results).toEqual([]);
  });

  it('should give the others what they may read when the first subscriber of a group may not see the post', async () => {
    const bea = await signUp('sh_fbe');
    const ana = await signUp('sh_fan');
    const cyd = await signUp('sh_fcy');
    const postId = await createPost(bea, 'Seen by all but the first');
    // Ana subscribes first: the group's shared part starts as her, before the authorization says she is out.
    const asAna = await subscribe(ana.accessToken, LIKED, { postId });
    const asCyd = await subscribe(cyd.accessToken, LIKED, { postId });
    const anonymous = await subscribe(undefined, LIKED, { postId });
    await gql('mutation($id: ID!) { block(userId: $id) }', { id: ana.user.id }, bea.accessToken);
    await like(cyd, postId);
    await vi.waitFor(() => expect([asCyd.results.length, anonymous.results.length]).toEqual([1, 1]), {
      timeout: 10_000,
    });
    const post = { id: postId, likeCount: 1, author: { username: 'sh_fbe' } };
    const shared = { likeCount: 1, user: { username: 'sh_fcy' } };
    expect(asCyd.results[0]?.data?.postLiked).toEqual({ ...shared, post: { ...post, viewerHasLiked: true } });
    expect(anonymous.results[0]?.data?.postLiked).toEqual({ ...shared, post: { ...post, viewerHasLiked: false } });
    expect(asAna.results).toEqual([]);
  });

  it('should deliver an event republished with the same id once', async () => {
    const bea = await signUp('sh_dbe');
    const ana = await signUp('sh_dan');
    const postId = await createPost(bea, 'Say it once');
    const liked = await subscribe(
      undefined,
      'subscription($postId: ID!) { postLiked(postId: $postId) { likeCount eventId occurredAt user { username } } }',
      { postId },
    );
    const event = (likeCount: number) => ({
      eventId: randomUUID(),
      occurredAt: new Date().toISOString(),
      postId,
      postAuthorId: bea.user.id,
      userId: ana.user.id,
      likeCount,
      at: new Date().toISOString(),
    });
    const first = event(1);
    // As after a consumer redelivery: JetStream drops the repeat from the stream, plain subscribers see it again.
    await bus.publish(PostsSubjects.postLiked, first, { msgId: first.eventId });
    await bus.publish(PostsSubjects.postLiked, first, { msgId: first.eventId });
    const second = event(2);
    await bus.publish(PostsSubjects.postLiked, second, { msgId: second.eventId });
    await vi.waitFor(() => expect(liked.results).toHaveLength(2), { timeout: 10_000 });
    expect(liked.results.map((r) => r.data?.postLiked)).toEqual([
      { likeCount: 1, eventId: first.eventId, occurredAt: first.occurredAt, user: { username: 'sh_dan' } },
      { likeCount: 2, eventId: second.eventId, occurredAt: second.occurredAt, user: { username: 'sh_dan' } },
    ]);
  });

  it('should deliver a notification to every socket of its recipient and to no one else', async () => {
    const bea = await signUp('sh_mbe');
    const ana = await signUp('sh_man');
    const cyd = await signUp('sh_mcy');
    const postId = await createPost(bea, 'Two tabs');
    const selection = 'subscription { notificationReceived { type actorCount } }';
    const firstTab = await subscribe(bea.accessToken, selection);
    const secondTab = await subscribe(bea.accessToken, selection);
    const asAna = await subscribe(ana.accessToken, selection);
    await like(ana, postId);
    await vi.waitFor(() => expect([firstTab.results.length, secondTab.results.length]).toEqual([1, 1]), {
      timeout: 15_000,
    });
    const open = gateway.openSubscriptions();
    firstTab.stop();
    await vi.waitFor(() => expect(gateway.openSubscriptions()).toBe(open - 1), { timeout: 5_000 });
    await like(cyd, postId);
    await vi.waitFor(() => expect(secondTab.results).toHaveLength(2), { timeout: 15_000 });
    expect(secondTab.results.map((r) => r.data?.notificationReceived)).toEqual([
      { type: 'LIKE', actorCount: 1 },
      { type: 'LIKE', actorCount: 2 },
    ]);
    expect(firstTab.results).toHaveLength(1);
    expect(asAna.results).toEqual([]);
  });

  it('should carry a notification’s actorCount and updatedAt as of the event, not as read at delivery', async () => {
    const bea = await signUp('sh_nbe');
    const ana = await signUp('sh_nan');
    const cyd = await signUp('sh_ncy');
    const postId = await createPost(bea, 'Count me');
    const selection = 'subscription { notificationReceived { id type actorCount updatedAt } }';
    const mine = await subscribe(bea.accessToken, selection);
    await like(ana, postId);
    await like(cyd, postId);
    await vi.waitFor(() => expect(mine.results).toHaveLength(2), { timeout: 15_000 });
    const [first, second] = mine.results.map((r) => r.data?.notificationReceived);
    expect(first).toMatchObject({ type: 'LIKE', actorCount: 1 });
    expect(second).toMatchObject({ id: first.id, type: 'LIKE', actorCount: 2 });
    expect(Date.parse(second.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first.updatedAt));
    // An event about an older state of the same notification: its own count, not the stored one (2).
    const updatedAt = new Date(Date.parse(first.updatedAt) - 1).toISOString();
    await bus.publish(FeedSubjects.notificationUpserted, {
      userId: bea.user.id,
      notificationId: first.id,
      type: 'LIKE',
      actorCount: 1,
      updatedAt,
    });
    await vi.waitFor(() => expect(mine.results).toHaveLength(3), { timeout: 10_000 });
    expect(mine.results[2]?.data?.notificationReceived).toEqual({
      id: first.id,
      type: 'LIKE',
      actorCount: 1,
      updatedAt,
    });
  });
});
