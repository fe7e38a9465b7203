import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { metricValue, postGraphQL, scrapeMetrics, type MetricSample } from '@insta/infra/testing';
import type { RunningSystem } from '../src/system.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

const secrets = {
  JWT_SECRET: 'metrics-e2e-jwt-secret-0123456789abcdef-xyz',
  GATEWAY_SIGNING_SECRET: 'metrics-e2e-signing-secret-0123456789abc',
};

interface Account {
  accessToken: string;
  user: { id: string };
}

describe('Prometheus metrics of a running system (gateway and subgraphs, real Postgres, Redis and NATS)', () => {
  let real: RealSystem;
  let system: RunningSystem;
  let client: Client | undefined;

  beforeAll(async () => {
    real = await startRealSystem('metrics', { ...secrets, METRICS_PORT: '0' });
    system = real.system;
  });
  afterAll(async () => {
    await client?.dispose();
    await real?.stop();
  });

  const gql = async (query: string, variables: Record<string, unknown> = {}, token?: string) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const res = await postGraphQL(system.gatewayUrl, query, variables, headers);
    expect(res.body.errors).toBeUndefined();
    return res.body.data as Record<string, any>;
  };
  const signUp = async (username: string): Promise<Account> =>
    (
      await gql('mutation SignUp($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }', {
        i: { username, email: `${username}@example.com`, password: 'a long enough password' },
      })
    ).signUp as Account;
  const scrape = () => scrapeMetrics(system.metricsUrl!);
  const grew = (before: MetricSample[], after: MetricSample[], name: string, labels: Record<string, string> = {}) =>
    metricValue(after, name, labels) - metricValue(before, name, labels);

  it('should serve the metrics on the gateway’s METRICS_PORT, not on its public port', async () => {
    expect(system.metricsUrl).toMatch(/\/metrics$/);
    expect(new URL(system.metricsUrl!).port).not.toBe(new URL(system.gatewayUrl).port);
    const publicMetrics = await fetch(new URL('/metrics', system.gatewayUrl));
    expect(publicMetrics.status).toBe(404);
    const samples = await scrape();
    expect(metricValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('should serve /metrics on every subgraph without the gateway signature', async () => {
    for (const url of Object.values(system.subgraphUrls)) {
      const samples = await scrapeMetrics(url.replace(/\/graphql$/, '/metrics'));
      expect(metricValue(samples, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    }
  });

  it('should move the request, subgraph, outbox, consumer, fan-out and subscription series after a post, a like and a delivery', async () => {
    const author = await signUp('metrics_author');
    const fan = await signUp('metrics_fan');
    await gql('mutation Follow($id: ID!) { follow(userId: $id) }', { id: author.user.id }, fan.accessToken);
    const before = await scrape();

    const postId = (
      await gql(
        'mutation CreatePost($i: CreatePostInput!) { createPost(input: $i) { id } }',
        { i: { text: 'measured' } },
        author.accessToken,
      )
    ).createPost.id as string;

    client = createClient({
      url: system.gatewayUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${author.accessToken}` },
    });
    const delivered: unknown[] = [];
    client.subscribe(
      { query: 'subscription Liked($id: ID!) { postLiked(postId: $id) { likeCount } }', variables: { id: postId } },
      { next: (result) => void delivered.push(result), error: () => undefined, complete: () => undefined },
    );
    await vi.waitFor(async () => {
      const samples = await scrape();
      expect(metricValue(samples, 'gateway_subscriptions', { field: 'postLiked' })).toBe(1);
      expect(metricValue(samples, 'gateway_websocket_connections')).toBe(1);
    });

    await gql('mutation Like($id: ID!) { likePost(postId: $id) { id } }', { id: postId }, fan.accessToken);
    await vi.waitFor(() => expect(delivered).toHaveLength(1), { timeout: 10_000 });

    await vi.waitFor(
      async () => {
        const after = await scrape();
        const mutation = (operation: string) => ({ service: 'gateway', operation, type: 'mutation' });
        expect(grew(before, after, 'graphql_request_duration_seconds_count', mutation('CreatePost'))).toBe(1);
        expect(grew(before, after, 'graphql_request_duration_seconds_count', mutation('Like'))).toBe(1);
        expect(
          grew(before, after, 'graphql_request_duration_seconds_count', { service: 'posts', type: 'mutation' }),
        ).toBeGreaterThanOrEqual(2);
        expect(
          grew(before, after, 'gateway_subgraph_fetch_duration_seconds_count', { subgraph: 'posts', outcome: 'ok' }),
        ).toBeGreaterThanOrEqual(2);
        expect(grew(before, after, 'outbox_published_total', { outbox: 'posts' })).toBeGreaterThanOrEqual(2);
        expect(grew(before, after, 'outbox_publish_lag_seconds_count', { outbox: 'posts' })).toBeGreaterThanOrEqual(2);
        expect(
          grew(before, after, 'event_consumer_messages_total', { durable: 'feed-fanout', outcome: 'acked' }),
        ).toBeGreaterThanOrEqual(1);
        expect(grew(before, after, 'feed_fanout_duration_seconds_count')).toBe(1);
        expect(grew(before, after, 'feed_fanout_lag_seconds_count')).toBe(1);
        expect(grew(before, after, 'gateway_subscription_delivery_latency_seconds_count', { field: 'postLiked' })).toBe(
          1,
        );
        expect(metricValue(after, 'breaker_state', { dependency: 'posts' })).toBe(0);
        expect(
          grew(before, after, 'graphql_responses_total', { service: 'gateway', status: '200' }),
        ).toBeGreaterThanOrEqual(2);
        expect(grew(before, after, 'redis_command_duration_seconds_count', { command: 'eval' })).toBeGreaterThanOrEqual(
          1,
        );
        const backlog = after.filter((s) => s.name === 'event_consumer_pending' && s.labels.durable === 'feed-fanout');
        expect(backlog.map((s) => s.labels.state).sort()).toEqual(['ack_pending', 'pending']);
      },
      { timeout: 10_000 },
    );
  });

  it('should echo a well-formed client request id and replace a malformed one', async () => {
    const send = (id: string) =>
      fetch(system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
    expect((await send('client-42.a_b')).headers.get('x-request-id')).toBe('client-42.a_b');
    const replaced = (await send('not ok; <script>')).headers.get('x-request-id');
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('should count errors by extensions.code', async () => {
    const before = await scrape();
    const res = await postGraphQL(system.gatewayUrl, 'mutation Nope { likePost(postId: "x") { id } }');
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const after = await scrape();
    expect(grew(before, after, 'graphql_errors_total', { service: 'gateway', code: 'UNAUTHENTICATED' })).toBe(1);
  });
});
