import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPrismaClient } from '@insta/db';
import { postGraphQL } from '@insta/infra/testing';
import type { RunningSystem } from '../src/system.ts';
import { apiClient } from './flow.ts';
import { startRealSystem, type RealSystem } from './real-system.ts';

const FEED = '{ feed { edges { node { id text createdAt } } } }';

describe('the home feed through the gateway, on the real Postgres, Redis and NATS', () => {
  let real: RealSystem;
  let system: RunningSystem;
  let database: RealSystem['database'];
  beforeAll(async () => {
    // The post below disappears behind the system's back (no event), which the entity cache, invalidated by
    // events, would hide for its TTL: this test is about the feed's answer, so the cache is off (ADR 17).
    real = await startRealSystem('feed-e2e', { ENTITY_CACHE: 'off' });
    ({ system, database } = real);
  });
  afterAll(async () => {
    await real?.stop();
  });

  const call = (query: string, variables: Record<string, unknown>, token?: string) =>
    postGraphQL<Record<string, any>>(
      system.gatewayUrl,
      query,
      variables,
      token ? { authorization: `Bearer ${token}` } : {},
    );
  const { gql, signUp } = apiClient(() => system.gatewayUrl);

  it('should still return the feed, with a null node, when a post disappeared after the feed listed it', async () => {
    const [author, reader] = [await signUp('feed_author'), await signUp('feed_reader')];
    await gql('mutation($id: ID!) { follow(userId: $id) }', { id: author.user.id }, reader.accessToken);
    const kept = (await gql('mutation { createPost(input: { text: "kept" }) { id } }', {}, author.accessToken))
      .createPost.id;
    const hidden = (await gql('mutation { createPost(input: { text: "hidden" }) { id } }', {}, author.accessToken))
      .createPost.id;
    await vi.waitFor(
      async () => {
        const ids = (await gql(FEED, {}, reader.accessToken)).feed.edges.map(
          (e: { node: { id: string } }) => e.node.id,
        );
        expect(ids).toEqual([hidden, kept]);
      },
      { timeout: 15_000, interval: 50 },
    );

    // Deleted in the posts subgraph only, without its event: the feed's replicas still list the post.
    const db = createPrismaClient({ url: database.url, poolSize: 1 });
    try {
      await db.$executeRaw`UPDATE posts.posts SET deleted_at = now() WHERE id = ${hidden}::uuid`;
    } finally {
      await db.$disconnect();
    }

    const res = await call(FEED, {}, reader.accessToken);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.feed.edges).toEqual([
      { node: null },
      { node: { id: kept, text: 'kept', createdAt: expect.any(String) } },
    ]);
  });
});
