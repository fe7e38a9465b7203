import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startInMemoryTracing, type FinishedSpan } from '@insta/infra/testing';
import type { RunningSystem } from '../src/system.ts';
import { apiClient, type Account } from './flow.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

const secrets = {
  JWT_SECRET: 'tracing-e2e-jwt-secret-0123456789abcdef-xyz',
  GATEWAY_SIGNING_SECRET: 'tracing-e2e-signing-secret-0123456789abc',
};

describe('OpenTelemetry traces of one like, gateway → posts → NATS → consumers and the realtime delivery', () => {
  const tracing = startInMemoryTracing();
  let real: RealSystem;
  let system: RunningSystem;
  let client: Client | undefined;

  beforeAll(async () => {
    real = await startRealSystem('tracing', secrets);
    system = real.system;
  });
  afterAll(async () => {
    await client?.dispose();
    await real?.stop();
    await tracing.stop();
  });

  const { gql, signUp } = apiClient(() => system.gatewayUrl);

  it('should make one connected trace from the likePost mutation to the subscriber’s delivery, with its SQL, Redis and loader batches', async () => {
    const author = await signUp('trace_author');
    const fan = await signUp('trace_fan');
    const postId = (
      await gql(
        'mutation($i: CreatePostInput!) { createPost(input: $i) { id } }',
        { i: { text: 'traced' } },
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
      { query: 'subscription($id: ID!) { postLiked(postId: $id) { likeCount } }', variables: { id: postId } },
      { next: (result) => void delivered.push(result), error: () => undefined, complete: () => undefined },
    );
    // Listening once the gateway counts it (the registry is this process's), so the like is its first event.
    await vi.waitFor(async () => {
      const res = await fetch(system.subgraphUrls.POSTS_URL.replace(/\/graphql$/, '/metrics'));
      expect(await res.text()).toMatch(/gateway_subscriptions\{field="postLiked"\} 1/);
    });
    tracing.reset();

    await gql('mutation Like($id: ID!) { likePost(postId: $id) { id } }', { id: postId }, fan.accessToken);
    await vi.waitFor(() => expect(delivered).toHaveLength(1), { timeout: 10_000 });

    let trace: FinishedSpan[] = [];
    await vi.waitFor(
      () => {
        const spans = tracing.spans();
        const roots = spans.filter((s) => s.name === 'gateway POST /graphql');
        expect(roots).toHaveLength(1);
        trace = spans.filter((s) => s.traceId === roots[0]!.traceId);
        const names = trace.map((s) => s.name);
        expect(names).toContain('fetch posts');
        expect(names).toContain('posts POST /graphql');
        expect(names).toContain('consume feed-posts');
        expect(names).toContain('deliver postLiked');
      },
      { timeout: 10_000 },
    );
    // Connected: every span but the root has its parent in the same trace.
    const ids = new Set(trace.map((s) => s.spanId));
    const orphans = trace.filter((s) => s.name !== 'gateway POST /graphql' && !ids.has(s.parentSpanId ?? ''));
    expect(orphans.map((s) => s.name)).toEqual([]);
    // The consumer and the delivery descend from the posts subgraph's request span (through the event).
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const ancestors = (span: FinishedSpan) => {
      const names: string[] = [];
      for (let p = byId.get(span.parentSpanId ?? ''); p; p = byId.get(p.parentSpanId ?? '')) names.push(p.name);
      return names;
    };
    for (const name of ['consume feed-posts', 'deliver postLiked']) {
      const span = trace.find((s) => s.name === name)!;
      expect(ancestors(span)).toEqual(
        expect.arrayContaining(['posts POST /graphql', 'fetch posts', 'gateway POST /graphql']),
      );
    }
    // Inside the posts request: the loader batches it ran, each SQL statement (Prisma's tracing), none of Prisma's
    // CPU-only steps; inside the gateway's: the Redis round trips of its rate limit (one script per request).
    const under = (name: string, ancestor: string) =>
      trace.filter((s) => s.name === name && ancestors(s).includes(ancestor));
    expect(under('load posts.postById', 'posts POST /graphql')).not.toHaveLength(0);
    const sql = under('prisma:client:db_query', 'posts POST /graphql').map((s) =>
      String(s.attributes['db.query.text']),
    );
    expect(sql).toEqual(expect.arrayContaining([expect.stringMatching(/^INSERT INTO "posts"\."likes"/)]));
    const loadSql = trace.filter(
      (s) => s.name === 'prisma:client:db_query' && ancestors(s).includes('load posts.postById'),
    );
    expect(loadSql).not.toHaveLength(0);
    expect(trace.filter((s) => /^prisma:client:(serialize|compile)$/.test(s.name))).toEqual([]);
    expect(under('redis eval', 'gateway POST /graphql')).not.toHaveLength(0);
    // Background queries (the outbox relays poll every second) start no trace of their own.
    const prismaRoots = tracing.spans().filter((s) => s.name.startsWith('prisma:') && !s.parentSpanId);
    expect(prismaRoots.map((s) => s.name)).toEqual([]);
  });
});
