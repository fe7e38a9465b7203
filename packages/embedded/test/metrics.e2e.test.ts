import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import sharp from 'sharp';
import WebSocket from 'ws';
import { metricValue, postGraphQL, scrapeMetrics, type MetricSample } from '@insta/infra/testing';
import type { RunningSystem } from '../src/system.ts';
import { apiClient, type Account } from './flow.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

const secrets = {
  JWT_SECRET: 'metrics-e2e-jwt-secret-0123456789abcdef-xyz',
  GATEWAY_SIGNING_SECRET: 'metrics-e2e-signing-secret-0123456789abc',
};

describe('Prometheus metrics of a running system (gateway and subgraphs, real Postgres, Redis and NATS)', () => {
  let real: RealSystem;
  let system: RunningSystem;
  let client: Client | undefined;

  beforeAll(async () => {
    // One search a minute: the second search of a test is refused (RATE_LIMITED).
    real = await startRealSystem('metrics', { ...secrets, METRICS_PORT: '0', RATE_LIMIT_SEARCH: '1/60' });
    system = real.system;
  });
  afterAll(async () => {
    await client?.dispose();
    await real?.stop();
  });

  const { gql, signUp } = apiClient(() => system.gatewayUrl);
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

  it('should move the media processing, rate-limit, Postgres pool and DataLoader batch series', async () => {
    const owner = await signUp('metrics_media');
    const before = await scrape();

    // A photo that processes, and a file that starts like a JPEG and is none (FAILED, with a reason).
    const photo = await jpeg();
    const ready = await upload(owner.accessToken, photo);
    const broken = await upload(
      owner.accessToken,
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('then no picture at all '.repeat(20))]),
    );
    const status = async (id: string) =>
      (await gql('query($id: ID!) { media(id: $id) { status } }', { id }, owner.accessToken)).media.status as string;
    await vi.waitFor(async () => expect(await status(ready)).toBe('READY'), { timeout: 30_000, interval: 200 });
    await vi.waitFor(async () => expect(await status(broken)).toBe('FAILED'), { timeout: 30_000, interval: 200 });

    // Reading a post resolves it through a loader of the posts subgraph.
    const postId = (
      await gql(
        'mutation CreatePost($i: CreatePostInput!) { createPost(input: $i) { id } }',
        { i: { text: 'with a photo', mediaIds: [ready] } },
        owner.accessToken,
      )
    ).createPost.id as string;
    await gql('query Post($id: ID!) { post(id: $id) { id media { id } } }', { id: postId }, owner.accessToken);

    const search = 'query Search($q: String!) { searchUsers(query: $q, first: 1) { edges { node { id } } } }';
    await gql(search, { q: 'metrics' }, owner.accessToken);
    const refused = await postGraphQL(
      system.gatewayUrl,
      search,
      { q: 'metrics' },
      {
        authorization: `Bearer ${owner.accessToken}`,
      },
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');

    const after = await scrape();
    expect(grew(before, after, 'media_processing_duration_seconds_count', { kind: 'IMAGE', outcome: 'ready' })).toBe(1);
    expect(grew(before, after, 'media_processing_duration_seconds_count', { kind: 'IMAGE', outcome: 'failed' })).toBe(
      1,
    );
    expect(grew(before, after, 'media_processing_failures_total')).toBe(1);
    expect(grew(before, after, 'gateway_rate_limit_rejections_total', { class: 'search' })).toBe(1);
    expect(grew(before, after, 'graphql_errors_total', { service: 'gateway', code: 'RATE_LIMITED' })).toBe(1);
    expect(grew(before, after, 'dataloader_batch_size_count', { loader: 'posts.postById' })).toBeGreaterThanOrEqual(1);
    expect(grew(before, after, 'dataloader_batch_size_sum', { loader: 'posts.postById' })).toBeGreaterThanOrEqual(1);
    // The embedded process has one pool for every service; its connections were opened and are within its size.
    const pool = (state: string) => metricValue(after, 'pg_pool_connections', { pool: 'embedded', state });
    expect(pool('total')).toBeGreaterThan(0);
    expect(pool('idle')).toBeLessThanOrEqual(pool('total'));
    expect(metricValue(after, 'pg_pool_max_connections', { pool: 'embedded' })).toBe(10);
    expect(metricValue(after, 'pg_pool_waiting_requests', { pool: 'embedded' })).toBeGreaterThanOrEqual(0);
    expect(pool('total')).toBeLessThanOrEqual(10);
  });

  /** A 64×48 JPEG. */
  const jpeg = () =>
    sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 30, g: 120, b: 200 } } })
      .jpeg()
      .toBuffer();

  /** Uploads `file` as a JPEG and completes the upload (processing then runs); returns the media id. */
  const upload = async (token: string, file: Buffer) => {
    const { requestUpload: ticket } = await gql(
      'mutation Upload($i: RequestUploadInput!) { requestUpload(input: $i) { media { id } url fields { name value } } }',
      { i: { contentType: 'image/jpeg', size: file.length } },
      token,
    );
    const form = new FormData();
    for (const { name, value } of ticket.fields as { name: string; value: string }[]) form.append(name, value);
    form.append('file', new Blob([file], { type: 'image/jpeg' }), 'upload');
    const res = await fetch(ticket.url, { method: 'POST', body: form });
    await res.arrayBuffer();
    expect(res.status).toBeLessThan(300);
    await gql('mutation Complete($id: ID!) { completeUpload(mediaId: $id) { id } }', { id: ticket.media.id }, token);
    return ticket.media.id as string;
  };

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
