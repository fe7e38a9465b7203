import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createGatewayServer, loadGatewayConfig, type GatewayServer } from '@insta/gateway';
import { NatsEventBus, RedisKeyValueStore, connectNats, connectRedis } from '@insta/infra';
import { postGraphQL, silentLogger, testServices } from '@insta/infra/testing';
import { apiClient, type Account } from './flow.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

type Result = FormattedExecutionResult<Record<string, any>, unknown>;

const secrets = {
  JWT_SECRET: 'realtime-edge-e2e-jwt-secret-0123456789abcdef',
  GATEWAY_SIGNING_SECRET: 'realtime-edge-e2e-signing-secret-0123456789a',
};

const POST_LIKED = /* GraphQL */ `
  subscription Liked($postId: ID!) {
    postLiked(postId: $postId) {
      likeCount
      user {
        username
      }
      post {
        id
        likeCount
      }
    }
  }
`;

describe('the realtime edge on the real Postgres, Redis and NATS', () => {
  let real: RealSystem;
  let bus: NatsEventBus;
  let kv: RedisKeyValueStore;
  // A second gateway instance with its own NATS and Redis connections, whose revocation list syncs too rarely
  // to matter: only the users subgraph's event on the bus can close its sockets at once.
  let second: GatewayServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    real = await startRealSystem('rtedge', secrets);
    bus = new NatsEventBus(await connectNats(testServices.natsUrl, 'realtime-edge-e2e'), real.prefix, silentLogger);
    kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), `${real.prefix}:`);
    second = await createGatewayServer({
      kv,
      bus,
      logger: silentLogger,
      config: loadGatewayConfig({
        ...secrets,
        ...real.system.subgraphUrls,
        PORT: '0',
        LOG_LEVEL: 'silent',
        REVOCATION_SYNC_INTERVAL_MS: '600000',
        REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
        REALTIME_MAX_CONNECTIONS_PER_USER: '2',
        HTTP_SUBSCRIPTION_HEARTBEAT_MS: '100',
      }),
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await second?.stop();
    await bus?.close();
    await kv?.close();
    await real?.stop();
  });

  const { gql: gql$, signUp, createPost, like } = apiClient(() => real.system.gatewayUrl);

  /** A socket on the second gateway that stays open; resolves once acknowledged. */
  const openSocket = async (token?: string) => {
    const closes: { code: number; reason: string }[] = [];
    let connected!: () => void;
    const acknowledged = new Promise<void>((resolve) => (connected = resolve));
    const client = createClient({
      url: second.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => undefined,
      ...(token ? { connectionParams: { authorization: `Bearer ${token}` } } : {}),
      on: {
        connected: () => connected(),
        closed: (event) => void closes.push(event as { code: number; reason: string }),
      },
    });
    clients.push(client);
    await acknowledged;
    return { client, closes };
  };
  const subscribe = (client: Client, query: string, variables: Record<string, unknown>) => {
    const state = { results: [] as Result[], error: undefined as unknown, stop: () => undefined as void };
    state.stop = client.subscribe(
      { query, variables },
      { next: (r) => void state.results.push(r as Result), error: (e) => (state.error = e), complete: () => undefined },
    );
    return state;
  };

  it('should close the sockets of a signed-out session on a second gateway instance at once', async () => {
    const ana = await signUp('rte_ana');
    const bea = await signUp('rte_bea');
    const postId = await createPost(bea, 'Watch me');
    const mine = await openSocket(ana.accessToken);
    const listening = subscribe(mine.client, POST_LIKED, { postId });
    const theirs = await openSocket(bea.accessToken);
    await vi.waitFor(() => expect(second.openSubscriptions()).toBe(1));

    await gql$('mutation { signOut }', {}, ana.accessToken);

    // No event, no operation: the users subgraph's users.session.revoked closes it.
    await vi.waitFor(() => expect(mine.closes).toHaveLength(1), { timeout: 5_000 });
    expect(mine.closes[0]).toMatchObject({ code: 4403, reason: 'The session has been signed out' });
    expect(listening.results).toEqual([]);
    await vi.waitFor(() => expect(second.openSubscriptions()).toBe(0));
    expect(theirs.closes).toEqual([]);
  });

  it('should close the sockets of a session revoked for refresh-token reuse at once', async () => {
    const cyd = await signUp('rte_cyd');
    const socket = await openSocket(cyd.accessToken);
    const rotate = 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }';
    await gql$(rotate, { t: cyd.refreshToken });
    // The rotated token again: reuse, the whole session is revoked.
    const reused = await postGraphQL(real.system.gatewayUrl, rotate, { t: cyd.refreshToken });
    expect(reused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await vi.waitFor(() => expect(socket.closes).toHaveLength(1), { timeout: 5_000 });
    expect(socket.closes[0]?.code).toBe(4403);
  });

  it('should refuse a subscription beyond the per-socket cap, and serve duplicate subscriptions on one socket', async () => {
    const dee = await signUp('rte_dee');
    const eve = await signUp('rte_eve');
    const postId = await createPost(dee, 'Many eyes');
    const { client } = await openSocket(eve.accessToken);
    const before = second.openSubscriptions();
    const subs = [1, 2, 3].map(() => subscribe(client, POST_LIKED, { postId }));
    await vi.waitFor(() => expect(second.openSubscriptions()).toBe(before + 3));
    const fourth = subscribe(client, POST_LIKED, { postId });
    await vi.waitFor(() => expect(fourth.error).toBeDefined());
    expect(fourth.error).toEqual([
      expect.objectContaining({
        message: 'At most 3 subscriptions per socket',
        extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
      }),
    ]);

    await like(dee, postId);
    for (const sub of subs) await vi.waitFor(() => expect(sub.results).toHaveLength(1), { timeout: 10_000 });
    expect(new Set(subs.map((s) => JSON.stringify(s.results)))).toEqual(
      new Set([
        JSON.stringify([
          { data: { postLiked: { likeCount: 1, user: { username: 'rte_dee' }, post: { id: postId, likeCount: 1 } } } },
        ]),
      ]),
    );
    // A finished subscription frees its place.
    subs[0]!.stop();
    await vi.waitFor(() => expect(second.openSubscriptions()).toBe(before + 2));
    const again = subscribe(client, POST_LIKED, { postId });
    await vi.waitFor(() => expect(second.openSubscriptions()).toBe(before + 3));
    expect(again.error).toBeUndefined();
    for (const sub of [...subs, again]) sub.stop();
  });

  it('should serve a subscription to Apollo Client’s HttpLink over multipart HTTP, and stop on unsubscribe', async () => {
    const fay = await signUp('rte_fay');
    const gus = await signUp('rte_gus');
    const postId = await createPost(gus, 'Over HTTP');
    const apollo = new ApolloClient({
      link: new HttpLink({ uri: second.url, headers: { authorization: `Bearer ${fay.accessToken}` } }),
      cache: new InMemoryCache(),
    });
    const results: unknown[] = [];
    const errors: unknown[] = [];
    const before = second.openSubscriptions();
    const subscription = apollo
      .subscribe({ query: gql(POST_LIKED), variables: { postId } })
      .subscribe({ next: (r) => void results.push(r.data), error: (e) => void errors.push(e) });
    await vi.waitFor(() => expect(second.openSubscriptions()).toBe(before + 1), { timeout: 5_000 });
    expect(second.openConnections()).toBeGreaterThan(0);

    await like(gus, postId);
    await vi.waitFor(() => expect(results).toHaveLength(1), { timeout: 10_000 });
    expect(results[0]).toMatchObject({
      postLiked: { likeCount: 1, user: { username: 'rte_gus' }, post: { id: postId, likeCount: 1 } },
    });
    expect(errors).toEqual([]);

    subscription.unsubscribe();
    // The aborted request ends the subscription: no member is left in its group.
    await vi.waitFor(() => expect(second.openSubscriptions()).toBe(before), { timeout: 5_000 });
    apollo.stop();
  });

  it('should frame multipart parts with heartbeats, and end the stream when the session is signed out', async () => {
    const hal = await signUp('rte_hal');
    const postId = await createPost(hal, 'Raw stream');
    const controller = new AbortController();
    const response = await fetch(second.url, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        'content-type': 'application/json',
        accept: 'multipart/mixed;subscriptionSpec="1.0", application/json',
        authorization: `Bearer ${hal.accessToken}`,
      },
      body: JSON.stringify({ query: POST_LIKED, variables: { postId } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('multipart/mixed;boundary="graphql";subscriptionSpec="1.0"');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (predicate: (text: string) => boolean) => {
      while (!predicate(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    };
    // Heartbeats (`{}`) every HTTP_SUBSCRIPTION_HEARTBEAT_MS, in Apollo's framing.
    await readUntil((t) => t.split('\r\n\r\n{}\r\n--graphql').length > 3);
    expect(
      text.startsWith('\r\n--graphql\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{}\r\n--graphql'),
    ).toBe(true);

    await gql$('mutation { signOut }', {}, hal.accessToken);
    await readUntil((t) => t.endsWith('--graphql--\r\n'));
    expect(text.endsWith('--graphql--\r\n')).toBe(true);
    const parts = text.split('\r\n--graphql').map((p) => p.slice(p.indexOf('\r\n\r\n') + 4));
    const last = JSON.parse(parts[parts.length - 2]!);
    expect(last).toEqual({
      payload: null,
      errors: [
        { message: 'The session has been signed out', extensions: { code: 'UNAUTHENTICATED', closeCode: 4403 } },
      ],
    });
    controller.abort();
  });

  it('should refuse an HTTP subscription with an invalid token with 401, and an anonymous feed with UNAUTHENTICATED', async () => {
    const headers = { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec=1.0' };
    const bad = await fetch(second.url, {
      method: 'POST',
      headers: { ...headers, authorization: 'Bearer not-a-token' },
      body: JSON.stringify({ query: 'subscription { feedUpdated { id } }' }),
    });
    expect(bad.status).toBe(401);
    const anonymous = await fetch(second.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: 'subscription { feedUpdated { id } }' }),
    });
    expect(anonymous.status).toBe(401);
    expect(
      ((await anonymous.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe('UNAUTHENTICATED');
  });

  it('should count an HTTP subscription as a connection of its user: 429 TOO_MANY_CONNECTIONS past the cap', async () => {
    const ivy = await signUp('rte_ivy');
    const postId = await createPost(ivy, 'Capped');
    await openSocket(ivy.accessToken);
    await openSocket(ivy.accessToken);
    const response = await fetch(second.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'multipart/mixed;subscriptionSpec=1.0',
        authorization: `Bearer ${ivy.accessToken}`,
      },
      body: JSON.stringify({ query: POST_LIKED, variables: { postId } }),
    });
    expect(response.status).toBe(429);
    expect(await response.json()).toEqual({
      errors: [
        {
          message: 'At most 2 realtime connections per user',
          extensions: { code: 'TOO_MANY_CONNECTIONS', closeCode: 4441 },
        },
      ],
    });
  });
});
