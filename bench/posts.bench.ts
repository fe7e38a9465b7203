/**
 * SQL statements and latency of one page of posts through the posts subgraph, 20 vs. 100 posts per page, each post
 * with 2 media, a mention, counts, viewerHasLiked and its first 2 comments (User.posts via `_entities`, as the
 * gateway asks it). The statement count must not grow with the page (every reference is batched). The posts and
 * social-graph subgraphs (visibility) run in this process over a fresh Postgres database; the load generator too.
 */
import { randomUUID } from 'node:crypto';
import { createPrismaClient, PrismaClient } from '@insta/db';
import { createTestDatabase, statementCountingClient } from '@insta/db/testing';
import {
  IDENTITY_HEADER,
  MemoryEventBus,
  MemoryKeyValueStore,
  requestPath,
  signIdentity,
  type RunningServer,
} from '@insta/infra';
import { silentLogger, TEST_SECRETS } from '@insta/infra/testing';
import { loadPostsConfig, startPostsSubgraph } from '../subgraphs/posts/src/server.ts';
import { loadSocialGraphConfig, startSocialGraphSubgraph } from '../subgraphs/social-graph/src/server.ts';
import { intFromEnv, load, toTargetResult, type BenchReport, type TargetResult } from './lib.ts';

const QUERY = `query($r: [_Any!]!, $first: Int) { _entities(representations: $r) { ... on User { posts(first: $first) {
  edges { node { id text hashtags author { id } mentions { id } media { id } likeCount commentCount viewerHasLiked createdAt
    comments(first: 2) { edges { node { id text author { id } } } } } } } } } }`;
const POSTS = 200;

async function seed(db: PrismaClient, authorId: string, viewerId: string) {
  const base = Date.now() - POSTS * 1000;
  const posts = Array.from({ length: POSTS }, (_, i) => ({
    id: randomUUID(),
    authorId,
    text: `post ${i} #bench with @viewer`,
    createdAt: new Date(base + i * 1000),
    likeCount: i % 2,
    commentCount: 3,
  }));
  await db.post.createMany({ data: posts });
  await db.postMedia.createMany({
    data: posts.flatMap((p) => [0, 1].map((position) => ({ postId: p.id, mediaId: randomUUID(), position }))),
  });
  await db.postHashtag.createMany({ data: posts.map((p) => ({ tag: 'bench', postId: p.id, createdAt: p.createdAt })) });
  await db.postMention.createMany({ data: posts.map((p) => ({ postId: p.id, userId: viewerId, position: 0 })) });
  await db.like.createMany({ data: posts.filter((p) => p.likeCount).map((p) => ({ postId: p.id, userId: viewerId })) });
  await db.comment.createMany({
    data: posts.flatMap((p) =>
      [0, 1, 2].map((i) => ({
        postId: p.id,
        authorId: viewerId,
        text: `comment ${i}`,
        createdAt: new Date(p.createdAt.getTime() + i),
      })),
    ),
  });
}

export default async function postsBench(): Promise<BenchReport> {
  const connections = intFromEnv('BENCH_CONNECTIONS', 10);
  const durationS = intFromEnv('BENCH_DURATION_S', 5);
  const warmupS = intFromEnv('BENCH_WARMUP_S', 2);
  const database = await createTestDatabase();
  const servers: RunningServer[] = [];
  const db = createPrismaClient({ url: database.url, poolSize: 10 });
  const { client: postsDb, statements } = statementCountingClient(database.url, 10);
  const kv = new MemoryKeyValueStore('bench:');
  const bus = new MemoryEventBus('bench', silentLogger);
  try {
    const authorId = randomUUID();
    const viewerId = randomUUID();
    await seed(db, authorId, viewerId);
    const env = {
      ...TEST_SECRETS,
      PORT: '0',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      IDENTITY_MAX_SKEW_SECONDS: '3600',
    };
    const deps = { db, kv, bus, logger: silentLogger };
    const social = await startSocialGraphSubgraph({ ...deps, config: loadSocialGraphConfig(env) });
    servers.push(social);
    const posts = await startPostsSubgraph({
      ...deps,
      db: postsDb,
      config: loadPostsConfig({ ...env, SOCIAL_GRAPH_URL: social.url }),
    });
    servers.push(posts);

    const viewer = { userId: viewerId, sessionId: randomUUID() };
    const headersFor = (body: string) => ({
      'content-type': 'application/json',
      [IDENTITY_HEADER]: signIdentity(TEST_SECRETS.GATEWAY_SIGNING_SECRET, viewer, {
        audience: 'posts',
        path: requestPath(posts.url),
        body,
      }),
    });
    const pages = [20, 100].map((first) => ({
      first,
      body: JSON.stringify({ query: QUERY, variables: { r: [{ __typename: 'User', id: authorId }], first } }),
      expectBody: '',
    }));
    const ratios: Record<string, number> = {};
    // Counted one request at a time, before any load: requests still in flight would add their statements.
    for (const page of pages) {
      statements.length = 0;
      const check = await fetch(posts.url, { method: 'POST', headers: headersFor(page.body), body: page.body });
      page.expectBody = await check.text();
      const answer = JSON.parse(page.expectBody) as {
        data?: { _entities: { posts: { edges: unknown[] } }[] };
        errors?: unknown;
      };
      if (answer.errors || answer.data?._entities[0]?.posts.edges.length !== page.first) {
        throw new Error(`page of ${page.first}: unexpected response ${page.expectBody.slice(0, 500)}`);
      }
      ratios[`SQL statements, page of ${page.first}`] = statements.length;
    }
    const results: TargetResult[] = [];
    for (const page of pages) {
      const target = `page${page.first}`;
      process.stderr.write(`posts bench: ${target} (warm-up ${warmupS} s, then ${durationS} s)\n`);
      const options = {
        url: posts.url,
        connections,
        headers: headersFor(page.body),
        body: page.body,
        expectBody: page.expectBody,
      };
      await load({ ...options, durationS: warmupS });
      const result = await load({ ...options, durationS });
      const description = `User.posts(first: ${page.first}) with media, mentions, counts, viewerHasLiked, comments(first: 2)`;
      results.push(toTargetResult(target, description, posts.url, result));
    }
    ratios['page100/page20 req/s'] =
      Math.round((results[1]!.requestsPerSec / results[0]!.requestsPerSec) * 1000) / 1000;
    return {
      settings: {
        query: QUERY,
        posts: POSTS,
        connections,
        durationS,
        warmupS,
        layout:
          'posts + social-graph subgraphs and the load generator (autocannon) in this process, over loopback; real Postgres ' +
          '(fresh database); in-process KV and event bus. SQL statements counted with Prisma query events on the posts client.',
        NODE_ENV: 'production',
      },
      results,
      ratios,
    };
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await postsDb.$disconnect();
    await db.$disconnect();
    await kv.close();
    await bus.close();
    await database.drop();
  }
}
