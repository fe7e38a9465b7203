import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import {
  FEED_FANOUT_STREAM,
  FEED_STREAM,
  FeedSubjects,
  POSTS_STREAM,
  PostsSubjects,
  type FanoutBatchJob,
  type FeedItemsAddedEvent,
  type PostCreatedEvent,
} from '@insta/events';
import { connectNats, NatsEventBus, type KeyValueStore, type RunningServer } from '@insta/infra';
import { silentLogger, testServices, uniquePrefix } from '@insta/infra/testing';
import { startSubgraphHarness } from '@insta/test-support';
import { loadFeedConfig, startFeedSubgraph, type FeedDeps, type FollowerSource } from '../src/server.ts';
import { eventually, postCreatedEvent, publishEvent } from './harness.ts';

/** social-graph's followers of each author, as the fake source answers (pages of 3 ids). */
const graph = new Map<string, string[]>();
const source: FollowerSource = {
  followerCount: async (userId) => graph.get(userId)?.length ?? 0,
  followerIds: async (userId, _first, after) => {
    const all = graph.get(userId) ?? [];
    const start = after ? Number(after) : 0;
    const hasNextPage = start + 3 < all.length;
    return { ids: all.slice(start, start + 3), hasNextPage, endCursor: hasNextPage ? String(start + 3) : null };
  },
};

/** Holds the follower batches this instance writes while `held` is set (the author's own write passes). */
const gate = { held: null as Promise<void> | null, holding: 0 };
function gatedKv(kv: KeyValueStore): KeyValueStore {
  const wrapper: KeyValueStore = Object.create(kv);
  wrapper.zaddCapped = async (entries, cap) => {
    if (gate.held && entries.length > 1) {
      gate.holding++;
      await gate.held;
    }
    return kv.zaddCapped(entries, cap);
  };
  return wrapper;
}

const nc = await connectNats(testServices.natsUrl, 'fanout-batches-test');
const prefix = uniquePrefix('fanout');
const bus = new NatsEventBus(nc, prefix, silentLogger);
const jsm = await jetstreamManager(nc);
let deps: FeedDeps;
const started: RunningServer[] = [];
let h: Awaited<ReturnType<typeof startSubgraphHarness>>;
const announced: FeedItemsAddedEvent[] = [];
let clock = Date.now() - 600_000;

beforeAll(async () => {
  // The FEED stream as the previous version created it: every feed subject, no limits.
  await jsm.streams.add({ name: `${prefix}_FEED`, subjects: [`${prefix}.feed.>`] });
  h = await startSubgraphHarness({
    name: 'feed',
    loadConfig: loadFeedConfig,
    env: { FEED_FANOUT_BATCH: '3', FEED_FANOUT_CONCURRENCY: '2', FEED_CELEBRITY_FOLLOWERS: '1000' },
    start: async (d) => {
      deps = { ...d, bus, followers: source };
      const first = await startFeedSubgraph({ ...deps, kv: gatedKv(d.kv) });
      started.push(first);
      return { ...first, stop: async () => void (await Promise.all(started.map((s) => s.stop()))) };
    },
  });
  const live = await bus.subscribe<FeedItemsAddedEvent>(FeedSubjects.itemsAdded);
  void (async () => {
    for await (const event of live) announced.push(event.data);
  })();
});
afterAll(async () => {
  await h.stop();
  for await (const stream of jsm.streams.list()) {
    if (stream.config.name.startsWith(`${prefix}_`)) await jsm.streams.delete(stream.config.name);
  }
  await bus.close();
});

/** An author with `count` active followers, known to social-graph and (unless `replica: false`) to the replica. */
async function author(count: number, options: { replica?: boolean } = {}) {
  const id = randomUUID();
  const followers = Array.from({ length: count }, () => randomUUID()).sort();
  await h.db.feedUser.createMany({ data: [id, ...followers].map((userId) => ({ userId, lastActiveAt: new Date() })) });
  if (options.replica !== false) {
    await h.db.feedFollow.createMany({
      data: followers.map((followerId) => ({ followerId, followeeId: id, changedAt: new Date(clock) })),
    });
  }
  graph.set(id, followers);
  return { id, followers };
}

async function post(authorId: string): Promise<PostCreatedEvent> {
  clock += 1_000;
  const event = postCreatedEvent(authorId, new Date(clock));
  await publishEvent(bus, PostsSubjects.postCreated, event);
  return event;
}

const timeline = async (userId: string) => (await h.kv.zrangeDesc(`feed:tl:${userId}`, null, 100)).map((m) => m.member);
const announcedTo = (postId: string) => announced.filter((e) => e.postId === postId).flatMap((e) => e.userIds);

describe('fan-out batches', () => {
  it('should leave every timeline the same when batches are redelivered and arrive in reverse order', async () => {
    const { id, followers } = await author(10);
    const first = await post(id);
    const second = await post(id);
    await eventually(async () => {
      for (const f of followers) expect(await timeline(f)).toEqual([second.postId, first.postId]);
    });
    // An older post's batches, newest range first, each twice (as redeliveries after lost acks would bring them).
    clock -= 10_000;
    const older = { postId: randomUUID(), authorId: id, createdAt: new Date(clock).toISOString() };
    clock += 20_000;
    const starts = [0, 3, 6, 9].map((i) => followers[i]!);
    const jobs: FanoutBatchJob[] = starts.map((from, i) => ({ ...older, from, to: starts[i + 1] ?? null })).reverse();
    for (const job of [...jobs, ...jobs, ...jobs.slice(0, 2)]) {
      await bus.publish(FeedSubjects.fanoutBatch, job, { msgId: randomUUID() });
    }
    // And the first post's batches once more.
    const again = starts.map((from, i) => ({ ...first, from, to: starts[i + 1] ?? null }));
    for (const job of again) await bus.publish(FeedSubjects.fanoutBatch, job, { msgId: randomUUID() });
    await eventually(async () => {
      for (const f of followers) expect(await timeline(f)).toEqual([second.postId, first.postId, older.postId]);
    });
    // Every timeline got each post once, and was told once.
    await eventually(() => expect(announcedTo(first.postId).sort()).toEqual([id, ...followers].sort()));
    await eventually(() => expect(announcedTo(older.postId).sort()).toEqual(followers));
  });

  it('should share one fan-out between two feed instances', async () => {
    const second = await startFeedSubgraph({ ...deps, config: { ...deps.config, PORT: 0 } });
    started.push(second);
    const { id, followers } = await author(24);
    let release!: () => void;
    gate.held = new Promise((resolve) => (release = resolve));
    gate.holding = 0;
    try {
      const created = await post(id);
      // The first instance is stuck on the batches it took; the second writes every other one meanwhile.
      await eventually(async () => {
        expect(gate.holding).toBeGreaterThan(0);
        const reached = (await Promise.all(followers.map(timeline))).filter((t) => t.includes(created.postId));
        expect(reached.length).toBe(followers.length - 3 * gate.holding);
      });
      release();
      await eventually(async () => {
        for (const f of followers) expect(await timeline(f)).toEqual([created.postId]);
      });
    } finally {
      gate.held = null;
      release();
    }
  });

  it('should repair the follow replica from social-graph when it missed follows and unfollows', async () => {
    const { id, followers } = await author(6, { replica: false });
    // The replica saw only half of the follows, and a follow social-graph no longer has (its unfollow was missed).
    const gone = randomUUID();
    await h.db.feedUser.create({ data: { userId: gone, lastActiveAt: new Date() } });
    await h.db.feedFollow.createMany({
      data: [...followers.slice(0, 3), gone].map((followerId) => ({
        followerId,
        followeeId: id,
        changedAt: new Date(clock),
      })),
    });
    const created = await post(id);
    await eventually(async () => {
      for (const f of followers) expect(await timeline(f)).toEqual([created.postId]);
    });
    expect(await timeline(gone)).toEqual([]);
    const replica = await h.db.feedFollow.findMany({
      where: { followeeId: id, active: true },
      select: { followerId: true },
    });
    expect(replica.map((r) => r.followerId).sort()).toEqual(followers);
  });

  it('should repair a replica that holds more follows than the celebrity threshold for an author who is not one', async () => {
    // social-graph knows 5 followers; the replica (events missed, a restored backup) holds 1 200 more, which the
    // split's bounded read counts only up to the threshold (1 000 here): the count differs, so it repairs.
    const { id, followers } = await author(5);
    const stale = Array.from({ length: 1_200 }, () => randomUUID());
    await h.db.feedUser.createMany({ data: stale.map((userId) => ({ userId, lastActiveAt: new Date() })) });
    await h.db.feedFollow.createMany({
      data: stale.map((followerId) => ({ followerId, followeeId: id, changedAt: new Date(clock) })),
    });
    const created = await post(id);
    await eventually(async () => {
      for (const f of followers) expect(await timeline(f)).toEqual([created.postId]);
    });
    await eventually(() => expect(announcedTo(created.postId).sort()).toEqual([id, ...followers].sort()));
    const replica = await h.db.feedFollow.findMany({
      where: { followeeId: id, active: true },
      select: { followerId: true },
    });
    expect(replica.map((r) => r.followerId).sort()).toEqual(followers);
    const reachedStale = (await Promise.all(stale.slice(0, 50).map(timeline))).filter((t) => t.length > 0);
    expect(reachedStale).toEqual([]);
  });

  it('should apply the retention limits on start, narrowing an older FEED stream', async () => {
    const info = async (name: string) => (await jsm.streams.info(`${prefix}_${name}`)).config;
    const feed = await info(FEED_STREAM.name);
    expect(feed.subjects.sort()).toEqual([`${prefix}.dlq.FEED.>`, `${prefix}.feed.notification.>`]);
    for (const definition of [FEED_STREAM, FEED_FANOUT_STREAM, POSTS_STREAM]) {
      const config = await info(definition.name);
      expect(config.max_age).toBe(nanos(definition.limits.maxAgeMs));
      expect(config.max_bytes).toBe(bus.maxBytesOf(definition.limits));
      expect(config.discard).toBe(definition.limits.discard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old);
    }
  });
});
