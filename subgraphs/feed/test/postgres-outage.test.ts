import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createPrismaClient, type PrismaClient } from '@insta/db';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
import { PostsSubjects } from '@insta/events';
import { connectNats, connectRedis, NatsEventBus, RedisKeyValueStore, type RunningServer } from '@insta/infra';
import {
  capturingLogger,
  startTcpProxy,
  testServices,
  TEST_SECRETS,
  uniquePrefix,
  type TcpProxy,
} from '@insta/infra/testing';
import { loadFeedConfig, startFeedSubgraph, type FollowerSource } from '../src/server.ts';
import { postCreatedEvent, publishEvent } from './harness.ts';

const followers = Array.from({ length: 5 }, () => randomUUID());
const authorId = randomUUID();
const source: FollowerSource = {
  followerCount: async () => followers.length,
  followerIds: async () => ({ ids: followers, hasNextPage: false, endCursor: null }),
};

/** What the feed and its bus logged, to see the retries and dead letters. */
const { logger, entries: logs } = capturingLogger();
type Tries = { poison: number; transient: number };

let database: TestDatabase;
let proxy: TcpProxy;
let db: PrismaClient;
let kv: RedisKeyValueStore;
let bus: NatsEventBus;
let feed: RunningServer;
beforeAll(async () => {
  database = await createTestDatabase();
  const url = new URL(database.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.port = String(proxy.port);
  db = createPrismaClient({ url: url.href, poolSize: 5 });
  kv = new RedisKeyValueStore(await connectRedis(testServices.redisUrl), uniquePrefix('feed:'));
  bus = new NatsEventBus(await connectNats(testServices.natsUrl, 'feed-outage-test'), uniquePrefix('feed'), logger);
  const config = loadFeedConfig({ ...TEST_SECRETS, PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test' });
  feed = await startFeedSubgraph({ config, db, kv, bus, logger, followers: source });
  await db.feedUser.createMany({
    data: [authorId, ...followers].map((userId) => ({ userId, lastActiveAt: new Date() })),
  });
});
afterAll(async () => {
  await proxy?.restore();
  await feed?.stop();
  await db?.$disconnect();
  await kv?.close();
  await bus?.close();
  await proxy?.close();
  await database?.drop();
});

async function publishPosts(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const post = postCreatedEvent(authorId);
    await publishEvent(bus, PostsSubjects.postCreated, post);
    ids.push(post.postId);
  }
  return ids;
}

const timeline = async (userId: string) => (await kv.zrangeDesc(`feed:tl:${userId}`, null, 200)).map((m) => m.member);

it(
  'should fan out every post of a burst once Postgres is back from a 10-s outage, and dead-letter none',
  { timeout: 180_000 },
  async () => {
    const before = await publishPosts(40);
    await vi.waitFor(async () => expect((await timeline(followers[0]!)).length).toBeGreaterThan(0), {
      timeout: 15_000,
    });

    await proxy.cut();
    const cutAt = Date.now();
    const during = await publishPosts(40);
    const transientRetries = () =>
      logs.filter((l) => {
        const tries = l.tries as Tries | undefined;
        return tries && tries.transient > 0 && tries.poison === 0;
      }).length;
    await vi.waitFor(() => expect(transientRetries()).toBeGreaterThanOrEqual(20), { timeout: 30_000 });
    // The outage itself: ten seconds of a database nobody can reach.
    await sleep(Math.max(0, 10_000 - (Date.now() - cutAt)));
    await proxy.restore();

    const all = [...before, ...during].sort();
    for (const userId of [authorId, ...followers]) {
      await vi.waitFor(async () => expect((await timeline(userId)).sort()).toEqual(all), {
        timeout: 90_000,
        interval: 250,
      });
    }
    expect(await db.feedPost.count()).toBe(80);
    expect(logs.filter((l) => l.msg === 'event dead-lettered')).toEqual([]);
    expect(await bus.deadLetters()).toEqual([]);
  },
);
