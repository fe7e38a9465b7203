import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PrismaClient } from '@insta/db';
import { FeedSubjects, PostsSubjects, type FeedItemsAddedEvent } from '@insta/events';
import type { KeyValueStore, RunningServer } from '@insta/infra';
import { startSubgraphHarness } from '@insta/test-support';
import { loadFeedConfig, startFeedSubgraph, type FeedDeps, type FollowerSource } from '../src/server.ts';
import { eventually, postCreatedEvent, publishEvent } from './harness.ts';

const followers = Array.from({ length: 10 }, () => randomUUID()).sort();
const authorId = randomUUID();

/** Pages of 3 ids, like social-graph's followerIds; the feed's follow replica starts empty and is repaired from it. */
const source: FollowerSource = {
  followerCount: async () => followers.length,
  followerIds: async (_userId, _first, after) => {
    const start = after ? Number(after) : 0;
    const ids = followers.slice(start, start + 3);
    const hasNextPage = start + 3 < followers.length;
    return { ids, hasNextPage, endCursor: hasNextPage ? String(start + 3) : null };
  },
};

/** The KV store of a worker that dies after `healthyWrites` timeline writes: every later write fails. */
function dyingKv(kv: KeyValueStore, state: { healthyWrites: number; failures: number }): KeyValueStore {
  const wrapper: KeyValueStore = Object.create(kv);
  wrapper.zaddCapped = async (entries, cap) => {
    if (state.healthyWrites <= 0) {
      state.failures++;
      throw new Error('worker killed');
    }
    state.healthyWrites--;
    return kv.zaddCapped(entries, cap);
  };
  return wrapper;
}

let h: Awaited<ReturnType<typeof start>>;
let deps: FeedDeps;
let current: RunningServer;
const state = { healthyWrites: 3, failures: 0 };
const start = () =>
  startSubgraphHarness({
    name: 'feed',
    loadConfig: loadFeedConfig,
    env: { FEED_FANOUT_BATCH: '2', FEED_FANOUT_CONCURRENCY: '2' },
    start: async (d) => {
      deps = { ...d, followers: source };
      current = await startFeedSubgraph({ ...deps, kv: dyingKv(d.kv, state) });
      return { ...current, stop: () => current.stop() };
    },
  });

beforeAll(async () => {
  h = await start();
});
afterAll(async () => {
  await h.stop();
});

async function activate(db: PrismaClient, ids: string[]) {
  await db.feedUser.createMany({ data: ids.map((userId) => ({ userId, lastActiveAt: new Date() })) });
}

it('should give every follower the post exactly once after the worker died half-way through the fan-out', async () => {
  await activate(h.db, [authorId, ...followers]);
  const announced: FeedItemsAddedEvent[] = [];
  const live = await h.bus.subscribe<FeedItemsAddedEvent>(FeedSubjects.itemsAdded);
  const reading = (async () => {
    for await (const event of live) announced.push(event.data);
  })();
  const post = postCreatedEvent(authorId);
  await publishEvent(h.bus, PostsSubjects.postCreated, post);

  // The author's timeline and two batch jobs of 2 followers are written, then the worker dies.
  await eventually(() => expect(state.failures).toBeGreaterThan(0));
  await current.stop();
  const timelines = () =>
    Promise.all(followers.map(async (id) => (await h.kv.zrangeDesc(`feed:tl:${id}`, null, 10)).map((m) => m.member)));
  const written = (await timelines()).filter((t) => t.length > 0).length;
  expect(written).toBe(4);

  current = await startFeedSubgraph(deps);
  await eventually(async () => expect(await timelines()).toEqual(followers.map(() => [post.postId])));
  const marker = { postId: 'marker', authorId, createdAt: post.createdAt, userIds: [authorId] };
  await h.bus.announce(FeedSubjects.itemsAdded, marker);
  await eventually(() => expect(announced.at(-1)).toEqual(marker));
  live.unsubscribe();
  await reading;
  const announcedUsers = announced.filter((e) => e.postId === post.postId).flatMap((e) => e.userIds);
  expect(announcedUsers.sort()).toEqual([authorId, ...followers].sort());
  // The replica was repaired from social-graph's list before the split.
  expect(await h.db.feedFollow.count({ where: { followeeId: authorId, active: true } })).toBe(followers.length);
});
