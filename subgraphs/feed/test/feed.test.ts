import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FeedSubjects,
  SocialSubjects,
  type FeedItemsAddedEvent,
  type FollowEvent,
  type MuteEvent,
} from '@insta/events';
import { encodeCursor } from '@insta/infra';
import { eventually, publishEvent, startFeedHarness, type FeedHarness } from './harness.ts';

let h: FeedHarness;
const itemsAdded: FeedItemsAddedEvent[] = [];
beforeAll(async () => {
  h = await startFeedHarness();
  const live = await h.bus.subscribe<FeedItemsAddedEvent>(FeedSubjects.itemsAdded);
  void (async () => {
    for await (const event of live) itemsAdded.push(event.data);
  })();
});
afterAll(async () => {
  await h.stop();
});

describe('fan-out on write', () => {
  it('should insert a post into the timelines of the author and every active follower, not of an inactive one', async () => {
    const [author, active, inactive] = [
      await h.createUser(),
      await h.createUser(),
      await h.createUser({ active: false }),
    ];
    await h.follow(active, author);
    await h.follow(inactive, author);
    const postId = await h.post(author);
    await eventually(async () => {
      expect(await h.timeline(active)).toEqual([postId]);
      expect(await h.timeline(author)).toEqual([postId]);
    });
    expect(await h.timeline(inactive)).toEqual([]);
    await eventually(() => {
      const users = itemsAdded.filter((e) => e.postId === postId).flatMap((e) => e.userIds);
      expect(users.sort()).toEqual([author.id, active.id].sort());
    });
  });

  it("should rebuild an inactive follower's timeline from Postgres on their next read", async () => {
    const [author, sleeper] = [await h.createUser(), await h.createUser({ active: false })];
    await h.follow(sleeper, author);
    const older = await h.post(author);
    const newer = await h.post(author);
    await eventually(async () => expect(await h.timeline(author)).toEqual([newer, older]));
    expect(await h.timeline(sleeper)).toEqual([]);
    expect((await h.feed(sleeper)).ids).toEqual([newer, older]);
    expect(await h.timeline(sleeper)).toEqual([newer, older]);
    // Reading made the user active: the next post is fanned out to them.
    const next = await h.post(author);
    await eventually(async () => expect(await h.timeline(sleeper)).toEqual([next, newer, older]));
  });

  it("should merge a celebrity's posts into followers' pages in order instead of fanning them out", async () => {
    const [celebrity, regular, reader] = [await h.createUser(), await h.createUser(), await h.createUser()];
    const fans = [reader, await h.createUser(), await h.createUser()];
    for (const fan of fans) await h.follow(fan, celebrity);
    await h.follow(reader, regular);
    const posts: string[] = [];
    for (const author of [regular, celebrity, regular, celebrity, regular]) posts.unshift(await h.post(author));
    await eventually(async () => {
      expect(await h.timeline(celebrity)).toEqual([posts[1], posts[3]]);
      expect(await h.timeline(reader)).toEqual([posts[0], posts[2], posts[4]]);
    });
    expect((await h.feed(reader)).ids).toEqual(posts);
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await h.feed(reader, { first: 2, ...(after ? { after } : {}) });
      paged.push(...page.ids);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    expect(paged).toEqual(posts);
    expect(await h.timeline(fans[1]!)).toEqual([]);
  });
});

describe('follow, unfollow, block, mute, delete', () => {
  it("should backfill the followee's recent posts on follow and remove them on unfollow and on block", async () => {
    const [author, reader] = [await h.createUser(), await h.createUser()];
    const older = await h.post(author);
    const newer = await h.post(author);
    await eventually(async () => expect(await h.timeline(author)).toEqual([newer, older]));
    await h.feed(reader);
    await h.follow(reader, author);
    await eventually(async () => expect(await h.timeline(reader)).toEqual([newer, older]));
    expect((await h.feed(reader)).ids).toEqual([newer, older]);

    await h.social(reader, 'unfollow', author);
    await eventually(async () => expect(await h.timeline(reader)).toEqual([]));
    expect((await h.feed(reader)).ids).toEqual([]);

    await h.follow(reader, author);
    await eventually(async () => expect(await h.timeline(reader)).toEqual([newer, older]));
    await h.social(author, 'block', reader);
    await eventually(async () => expect(await h.timeline(reader)).toEqual([]));
    expect((await h.feed(reader)).ids).toEqual([]);
  });

  it('should hide a muted author from the feed and show them again after unmute', async () => {
    const [muted, other, reader] = [await h.createUser(), await h.createUser(), await h.createUser()];
    await h.follow(reader, muted);
    await h.follow(reader, other);
    const fromMuted = await h.post(muted);
    const fromOther = await h.post(other);
    await eventually(async () => expect(await h.timeline(reader)).toEqual([fromOther, fromMuted]));
    await h.social(reader, 'mute', muted);
    await eventually(async () => expect((await h.feed(reader)).ids).toEqual([fromOther]));
    await h.social(reader, 'unmute', muted);
    await eventually(async () => expect((await h.feed(reader)).ids).toEqual([fromOther, fromMuted]));
  });

  it('should leave a deleted post out and still fill the page', async () => {
    const [author, reader] = [await h.createUser(), await h.createUser()];
    await h.follow(reader, author);
    const posts: string[] = [];
    for (let i = 0; i < 4; i++) posts.unshift(await h.post(author));
    await eventually(async () => expect(await h.timeline(reader)).toEqual(posts));
    await h.deletePost(posts[1]!);
    const page = await h.feed(reader, { first: 3 });
    expect(page.ids).toEqual([posts[0], posts[2], posts[3]]);
    expect(page.pageInfo.hasNextPage).toBe(false);
    expect(await h.timeline(reader)).not.toContain(posts[1]);
  });
});

describe('follow and mute events delivered out of order', () => {
  const minuteAgo = () => new Date(Date.now() - 60_000);

  it('should leave no follow and no backfilled posts when an older follow.created arrives after the follow.deleted', async () => {
    const [author, reader] = [await h.createUser(), await h.createUser()];
    const postId = await h.post(author);
    await eventually(async () => expect(await h.timeline(author)).toEqual([postId]));
    await h.feed(reader);
    const pair = { followerId: reader.id, followeeId: author.id } satisfies FollowEvent;
    await publishEvent(h.bus, SocialSubjects.followDeleted, pair);
    await publishEvent(h.bus, SocialSubjects.followCreated, pair, minuteAgo());
    // The FOLLOW notification comes after the follow's replica write and backfill in the same handler.
    await eventually(async () =>
      expect(await h.db.notification.count({ where: { userId: author.id, type: 'FOLLOW' } })).toBe(1),
    );
    expect(
      await h.db.feedFollow.findUnique({ where: { followerId_followeeId: pair }, select: { active: true } }),
    ).toEqual({ active: false });
    expect(await h.timeline(reader)).toEqual([]);
    expect((await h.feed(reader)).ids).toEqual([]);
  });

  it('should keep an author unmuted when an older mute.created arrives after the mute.deleted', async () => {
    const [author, reader, marker] = [await h.createUser(), await h.createUser(), await h.createUser()];
    await h.follow(reader, author);
    const postId = await h.post(author);
    await eventually(async () => expect(await h.timeline(reader)).toEqual([postId]));
    const pair = { muterId: reader.id, mutedId: author.id } satisfies MuteEvent;
    await publishEvent(h.bus, SocialSubjects.muteDeleted, pair);
    await publishEvent(h.bus, SocialSubjects.muteCreated, pair, minuteAgo());
    // Events are handled in order: once the later marker mute shows, the older mute.created was handled.
    await publishEvent(h.bus, SocialSubjects.muteCreated, {
      muterId: marker.id,
      mutedId: author.id,
    } satisfies MuteEvent);
    await eventually(async () =>
      expect(await h.db.feedMute.count({ where: { muterId: marker.id, active: true } })).toBe(1),
    );
    expect(await h.db.feedMute.findUnique({ where: { muterId_mutedId: pair }, select: { active: true } })).toEqual({
      active: false,
    });
    expect((await h.feed(reader)).ids).toEqual([postId]);
  });
});

describe('reading the feed', () => {
  it('should serve the same feed after Redis lost the timeline', async () => {
    const [a, b, reader] = [await h.createUser(), await h.createUser(), await h.createUser()];
    await h.follow(reader, a);
    await h.follow(reader, b);
    const posts: string[] = [];
    for (const author of [a, b, a, reader, b]) posts.unshift(await h.post(author));
    await eventually(async () => expect(await h.timeline(reader)).toEqual(posts));
    const before = await h.feed(reader);
    await h.kv.del(`feed:tl:${reader.id}`, `feed:tl-built:${reader.id}`);
    expect(await h.feed(reader)).toEqual(before);
    expect(await h.timeline(reader)).toEqual(posts);
  });

  it('should rebuild the timeline when Redis lost it but kept the built marker', async () => {
    const [author, reader] = [await h.createUser(), await h.createUser()];
    await h.follow(reader, author);
    const posts = [await h.post(author), await h.post(author)].reverse();
    await eventually(async () => expect(await h.timeline(reader)).toEqual(posts));
    expect((await h.feed(reader)).ids).toEqual(posts);
    await h.kv.del(`feed:tl:${reader.id}`);
    expect((await h.feed(reader)).ids).toEqual(posts);
    expect(await h.timeline(reader)).toEqual(posts);
  });

  it('should keep cursors stable while new posts arrive', async () => {
    const [author, reader] = [await h.createUser(), await h.createUser()];
    await h.follow(reader, author);
    const posts: string[] = [];
    for (let i = 0; i < 4; i++) posts.unshift(await h.post(author));
    await eventually(async () => expect(await h.timeline(reader)).toEqual(posts));
    const first = await h.feed(reader, { first: 2 });
    expect(first.ids).toEqual(posts.slice(0, 2));
    const fresh = await h.post(author);
    await eventually(async () => expect(await h.timeline(reader)).toContain(fresh));
    const second = await h.feed(reader, { first: 2, after: first.pageInfo.endCursor! });
    expect(second).toEqual({ ids: posts.slice(2), pageInfo: { hasNextPage: false, endCursor: expect.any(String) } });
    expect((await h.feed(reader, { first: 1 })).ids).toEqual([fresh]);
  });

  it('should reject forged and foreign cursors, bad page sizes and anonymous callers', async () => {
    const reader = await h.createUser();
    const query = 'query($first: Int, $after: String) { feed(first: $first, after: $after) { edges { cursor } } }';
    for (const variables of [
      { after: 'not-a-cursor' },
      { after: encodeCursor('notifications', [1, reader.id]) },
      { first: 101 },
    ]) {
      const res = await h.request(query, variables, reader.identity);
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    const anonymous = await h.request(query);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
