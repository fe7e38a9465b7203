import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '@insta/db';
import { createTestDatabase, type TestDatabase } from '@insta/db/testing';
import { connectRedis, MemoryEventBus, RedisKeyValueStore } from '@insta/infra';
import { silentLogger, testServices, uniquePrefix } from '@insta/infra/testing';
import { FanoutWorker } from '../src/fanout.worker.ts';
import { FeedEventsPublisher } from '../src/feed.events.ts';
import { FeedRepository } from '../src/feed.repository.ts';
import { FollowersRepository } from '../src/followers.repository.ts';
import type { FollowerSource } from '../src/social-graph.client.ts';
import { TimelineRepository } from '../src/timeline.repository.ts';
import { postCreatedEvent } from './harness.ts';

/**
 * The split reads the replica's ranges while it asks social-graph for the count and indexes the post (ADR 18). A
 * follow applied between that read and the batch's read must still get the post: the follow event's backfill ran
 * before the post was indexed, so the batch is its only way in.
 */
let database: TestDatabase;
let db: PrismaClient;
let redis: Awaited<ReturnType<typeof connectRedis>>;
let timelines: TimelineRepository;
const prefix = `${uniquePrefix('split')}:`;
const authorId = randomUUID();
const followers = Array.from({ length: 5 }, () => randomUUID());
/** Sorts before and after every random follower id. */
const lowest = '00000000-0000-4000-8000-000000000001';
const highest = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
const graph = { count: followers.length };

/** The replica's ranges, with follows landing right after they were read (as SOCIAL events could). */
class FollowsLandingAfterTheRead extends FollowersRepository {
  landing: string[] = [];
  override async ranges(authorId: string, size: number, limit: number | null = null) {
    const ranges = await super.ranges(authorId, size, limit);
    for (const followerId of this.landing.splice(0)) {
      await db.feedUser.create({ data: { userId: followerId, lastActiveAt: new Date() } });
      await db.feedFollow.create({ data: { followerId, followeeId: authorId, changedAt: new Date() } });
    }
    return ranges;
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createPrismaClient({ url: database.url, poolSize: 4 });
  redis = await connectRedis(testServices.redisUrl);
  timelines = new TimelineRepository(new RedisKeyValueStore(redis, prefix), 800);
  await db.feedUser.createMany({
    data: [authorId, ...followers].map((userId) => ({ userId, lastActiveAt: new Date() })),
  });
  await db.feedFollow.createMany({
    data: followers.map((followerId) => ({ followerId, followeeId: authorId, changedAt: new Date() })),
  });
}, 60_000);
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await db.$disconnect();
  await database.drop();
});

it('should give the post to follows applied after the split read the ranges, below and above every other id', async () => {
  const replica = new FollowsLandingAfterTheRead(db);
  const source: FollowerSource = {
    followerCount: async () => graph.count,
    followerIds: async () => ({ ids: [], hasNextPage: false, endCursor: null }),
  };
  const worker = new FanoutWorker(
    new FeedRepository(db),
    replica,
    timelines,
    source,
    new FeedEventsPublisher(new MemoryEventBus('split', silentLogger)),
    { FEED_ACTIVE_WINDOW_DAYS: 7, FEED_CELEBRITY_FOLLOWERS: 1_000, FEED_FANOUT_BATCH: 1_000 },
    silentLogger,
  );
  replica.landing = [lowest, highest];
  const event = postCreatedEvent(authorId);
  await worker.handle({
    subject: 'posts.post.created',
    data: event,
    deliveryCount: 1,
    lastTry: false,
    signal: new AbortController().signal,
  });
  expect(replica.landing).toEqual([]);
  for (const userId of [authorId, lowest, ...followers, highest]) {
    expect((await timelines.page(userId, null, 10)).map((i) => i.id)).toEqual([event.postId]);
  }
});
