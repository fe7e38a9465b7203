import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  FEED_STREAM,
  FeedSubjects,
  PostsSubjects,
  type CommentAddedEvent,
  type MentionCreatedEvent,
  type NotificationRemovedEvent,
  type NotificationUpsertedEvent,
  type PostLikeEvent,
} from '@insta/events';
import { encodeCursor } from '@insta/infra';
import { postOrderingKey } from '../src/events.consumer.ts';
import { NotificationsRepository } from '../src/notifications.repository.ts';
import { eventually, publishEvent, startFeedHarness, type FeedHarness, type TestUser } from './harness.ts';

let h: FeedHarness;
const upserted: NotificationUpsertedEvent[] = [];
const removed: NotificationRemovedEvent[] = [];
beforeAll(async () => {
  h = await startFeedHarness();
  await h.bus.ensureStream(FEED_STREAM);
  await h.bus.consume<NotificationUpsertedEvent>({
    stream: FEED_STREAM.name,
    durable: 'test-notifications',
    filterSubject: FeedSubjects.notificationUpserted,
    maxDeliver: 1,
    handler: async (m) => void upserted.push(m.data),
  });
  await h.bus.consume<NotificationRemovedEvent>({
    stream: FEED_STREAM.name,
    durable: 'test-notifications-removed',
    filterSubject: FeedSubjects.notificationRemoved,
    maxDeliver: 1,
    handler: async (m) => void removed.push(m.data),
  });
});
afterAll(async () => {
  await h.stop();
});

const NOTIFICATIONS = `query($first: Int, $after: String) {
  notifications(first: $first, after: $after) {
    edges { cursor node { id type actorCount read actors { id } post { id } comment { id } updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
  unreadNotificationCount
}`;

interface NotificationView {
  id: string;
  type: string;
  actorCount: number;
  read: boolean;
  actors: { id: string }[];
  post: { id: string } | null;
  comment: { id: string } | null;
}

async function notificationsOf(user: TestUser, variables: { first?: number; after?: string } = {}) {
  const res = await h.request(NOTIFICATIONS, variables, user.identity);
  expect(res.body.errors).toBeUndefined();
  const data = res.body.data!;
  return {
    nodes: data.notifications.edges.map((e: { node: NotificationView }) => e.node) as NotificationView[],
    pageInfo: data.notifications.pageInfo as { hasNextPage: boolean; endCursor: string | null },
    unread: data.unreadNotificationCount as number,
  };
}

let minute = 0;
async function like(postId: string, postAuthor: TestUser, user: TestUser, subject: string = PostsSubjects.postLiked) {
  const event: PostLikeEvent = {
    postId,
    postAuthorId: postAuthor.id,
    userId: user.id,
    likeCount: 1,
    at: new Date(Date.now() + ++minute * 1_000).toISOString(),
  };
  await publishEvent(h.bus, subject, event);
}

const ids = (users: { id: string }[]) => users.map((u) => u.id);

/** A post the feed knows (its replica has it): notifications show only posts their recipient may see. */
async function postBy(author: TestUser): Promise<string> {
  const postId = await h.post(author);
  await eventually(async () => expect(await h.db.feedPost.findUnique({ where: { postId } })).not.toBeNull());
  return postId;
}

describe('grouped notifications', () => {
  it('should group likes of one post into one notification with the most recent actors first', async () => {
    const [author, ana, bob, carl] = [
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
    ];
    const postId = await postBy(author);
    await like(postId, author, ana);
    await like(postId, author, bob);
    await like(postId, author, carl);
    await eventually(async () => expect((await notificationsOf(author)).nodes[0]?.actorCount).toBe(3));
    const { nodes, unread } = await notificationsOf(author);
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ type: 'LIKE', read: false, post: { id: postId }, comment: null });
    expect(ids(nodes[0]!.actors)).toEqual(ids([carl, bob, ana]));
    expect(unread).toBe(1);
    const two = await h.request(
      '{ notifications { edges { node { actors(first: 2) { id } } } } }',
      {},
      author.identity,
    );
    expect(ids(two.body.data!.notifications.edges[0].node.actors)).toEqual(ids([carl, bob]));
    await eventually(() =>
      expect(upserted.filter((e) => e.notificationId === nodes[0]!.id).map((e) => e.actorCount)).toEqual([1, 2, 3]),
    );
  });

  it('should remove the actor on unlike and count a redelivered like once', async () => {
    const [author, ana, bob] = [await h.createUser(), await h.createUser(), await h.createUser()];
    const postId = await postBy(author);
    await like(postId, author, ana);
    await like(postId, author, bob);
    await like(postId, author, ana);
    await like(postId, author, bob, PostsSubjects.postUnliked);
    // ana alone is also the state after the first like: the removal's announcement marks the unlike as handled.
    await eventually(() => expect(removed.some((e) => e.userId === author.id && e.actorId === bob.id)).toBe(true));
    expect(ids((await notificationsOf(author)).nodes[0]?.actors ?? [])).toEqual(ids([ana]));
    expect((await notificationsOf(author)).nodes[0]?.actorCount).toBe(1);
    await like(postId, author, ana, PostsSubjects.postUnliked);
    await eventually(async () => expect((await notificationsOf(author)).nodes).toEqual([]));
  });

  it('should announce each removed actor, also the one whose removal deleted the notification', async () => {
    const [author, ana, bob] = [await h.createUser(), await h.createUser(), await h.createUser()];
    const postId = await postBy(author);
    await like(postId, author, ana);
    await like(postId, author, bob);
    await like(postId, author, bob, PostsSubjects.postUnliked);
    await like(postId, author, ana, PostsSubjects.postUnliked);
    await eventually(() =>
      expect(removed.filter((e) => e.userId === author.id)).toEqual([
        { userId: author.id, type: 'LIKE', postId, actorId: bob.id, removedAt: expect.any(String) },
        { userId: author.id, type: 'LIKE', postId, actorId: ana.id, removedAt: expect.any(String) },
      ]),
    );
    expect((await notificationsOf(author)).nodes).toEqual([]);
  });

  it('should ignore a like delivered after its unlike, and an unlike delivered after a newer like', async () => {
    const [author, ana, bob, carl] = [
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
    ];
    const postId = await postBy(author);
    const t = Date.now() + ++minute * 1_000;
    const event = (user: TestUser, at: number): PostLikeEvent => ({
      postId,
      postAuthorId: author.id,
      userId: user.id,
      likeCount: 0,
      at: new Date(at).toISOString(),
    });
    await publishEvent(h.bus, PostsSubjects.postUnliked, event(ana, t + 100));
    await publishEvent(h.bus, PostsSubjects.postLiked, event(ana, t));
    await publishEvent(h.bus, PostsSubjects.postLiked, event(bob, t + 200));
    await publishEvent(h.bus, PostsSubjects.postUnliked, event(bob, t + 100));
    await publishEvent(h.bus, PostsSubjects.postLiked, event(carl, t + 300));
    // Events are handled in order: once carl's like shows, the others were handled.
    await eventually(async () =>
      expect((await notificationsOf(author)).nodes[0]?.actors).toEqual([{ id: carl.id }, { id: bob.id }]),
    );
    expect((await notificationsOf(author)).nodes[0]?.actorCount).toBe(2);
  });

  it('should not notify users of their own actions nor of muted or blocked users', async () => {
    const [author, muted, blocked, fan] = [
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
    ];
    await h.social(author, 'mute', muted);
    await h.social(blocked, 'block', author);
    await eventually(async () => {
      expect(await h.db.feedMute.count({ where: { muterId: author.id, active: true } })).toBe(1);
      expect(await h.db.feedBlock.count({ where: { blockerId: blocked.id, active: true } })).toBe(1);
    });
    const postId = await postBy(author);
    for (const user of [author, muted, blocked, fan]) await like(postId, author, user);
    // Events are handled in order: once the last like shows, the others were handled (and skipped).
    await eventually(async () => expect((await notificationsOf(author)).nodes[0]?.actors).toEqual([{ id: fan.id }]));
    expect((await notificationsOf(author)).nodes[0]?.actorCount).toBe(1);
  });

  it('should leave out of the actors those muted or blocked after they acted, but still count them', async () => {
    const [author, muted, blocker, fan] = [
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
    ];
    const postId = await postBy(author);
    for (const user of [muted, blocker, fan]) await like(postId, author, user);
    await eventually(async () => expect((await notificationsOf(author)).nodes[0]?.actorCount).toBe(3));
    await h.social(author, 'mute', muted);
    await h.social(blocker, 'block', author);
    await eventually(async () => expect((await notificationsOf(author)).nodes[0]?.actors).toEqual([{ id: fan.id }]));
    expect((await notificationsOf(author)).nodes[0]?.actorCount).toBe(3);
  });

  it('should notify comments, replies, mentions, follows and follow requests to the right users', async () => {
    const [author, ana, bob, priv] = [
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
      await h.createUser({ isPrivate: true }),
    ];
    const postId = await postBy(author);
    const [comment, reply] = [randomUUID(), randomUUID()];
    const at = new Date().toISOString();
    const base = { postId, postAuthorId: author.id, commentCount: 1, createdAt: at };
    await publishEvent(h.bus, PostsSubjects.commentAdded, {
      ...base,
      commentId: comment,
      authorId: ana.id,
      parentId: null,
      parentAuthorId: null,
    } satisfies CommentAddedEvent);
    const later = new Date(Date.parse(at) + 1_000).toISOString();
    await publishEvent(h.bus, PostsSubjects.commentAdded, {
      ...base,
      createdAt: later,
      commentId: reply,
      authorId: bob.id,
      parentId: comment,
      parentAuthorId: ana.id,
    } satisfies CommentAddedEvent);
    await publishEvent(h.bus, PostsSubjects.mentionCreated, {
      postId,
      commentId: reply,
      mentionedUserId: author.id,
      authorId: bob.id,
      createdAt: at,
    } satisfies MentionCreatedEvent);
    await h.follow(ana, author);
    await h.social(ana, 'follow', priv);

    await eventually(async () =>
      expect((await notificationsOf(author)).nodes.map((n) => n.type).sort()).toEqual(['COMMENT', 'FOLLOW', 'MENTION']),
    );
    const ofAuthor = (await notificationsOf(author)).nodes;
    expect(ofAuthor.find((n) => n.type === 'COMMENT')).toMatchObject({
      actorCount: 2,
      actors: [{ id: bob.id }, { id: ana.id }],
      post: { id: postId },
    });
    expect(ofAuthor.find((n) => n.type === 'MENTION')).toMatchObject({
      actors: [{ id: bob.id }],
      comment: { id: reply },
    });
    expect(ofAuthor.find((n) => n.type === 'FOLLOW')).toMatchObject({ actors: [{ id: ana.id }], post: null });
    expect((await notificationsOf(ana)).nodes).toEqual([
      expect.objectContaining({ type: 'REPLY', actors: [{ id: bob.id }], comment: { id: reply } }),
    ]);
    await eventually(async () =>
      expect((await notificationsOf(priv)).nodes).toEqual([
        expect.objectContaining({ type: 'FOLLOW_REQUEST', actors: [{ id: ana.id }] }),
      ]),
    );

    await h.social(priv, 'approveFollowRequest', ana);
    await eventually(async () => expect((await notificationsOf(priv)).nodes).toEqual([]));
  });
});

describe('reading notifications', () => {
  it('should page newest first, mark all read, and turn a group unread again on a new actor', async () => {
    const [author, ana, bob] = [await h.createUser(), await h.createUser(), await h.createUser()];
    const posts = [await postBy(author), await postBy(author), await postBy(author)];
    for (const postId of posts) await like(postId, author, ana);
    await eventually(async () => expect((await notificationsOf(author)).unread).toBe(3));
    const first = await notificationsOf(author, { first: 2 });
    expect(first.nodes.map((n) => n.post?.id)).toEqual([posts[2], posts[1]]);
    const second = await notificationsOf(author, { first: 2, after: first.pageInfo.endCursor! });
    expect(second.nodes.map((n) => n.post?.id)).toEqual([posts[0]]);
    expect(second.pageInfo.hasNextPage).toBe(false);

    const marked = await h.request('mutation { markNotificationsRead }', {}, author.identity);
    expect(marked.body.data).toEqual({ markNotificationsRead: 3 });
    expect((await notificationsOf(author)).unread).toBe(0);
    await like(posts[0]!, author, bob);
    await eventually(async () =>
      expect((await notificationsOf(author)).nodes[0]).toMatchObject({
        post: { id: posts[0] },
        read: false,
        actorCount: 2,
      }),
    );
    expect((await notificationsOf(author)).unread).toBe(1);
  });

  it('should require a signed-in caller and reject a foreign cursor', async () => {
    for (const query of [
      '{ unreadNotificationCount }',
      '{ notifications { edges { cursor } } }',
      'mutation { markNotificationsRead }',
    ]) {
      expect((await h.request(query)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    const user = await h.createUser();
    const feedCursor = encodeCursor('feed', [1, randomUUID()]);
    const res = await h.request(NOTIFICATIONS, { after: feedCursor }, user.identity);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });
});

describe('notifications and post privacy', () => {
  const mention = (postId: string, author: TestUser, mentioned: TestUser, commentId: string | null = null) =>
    publishEvent(h.bus, PostsSubjects.mentionCreated, {
      postId,
      commentId,
      mentionedUserId: mentioned.id,
      authorId: author.id,
      createdAt: new Date().toISOString(),
    } satisfies MentionCreatedEvent);

  it("should not notify a stranger mentioned in a private account's post, but notify its followers", async () => {
    const [priv, follower, stranger, pub] = [
      await h.createUser({ isPrivate: true }),
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
    ];
    await h.social(follower, 'follow', priv);
    await h.social(priv, 'approveFollowRequest', follower);
    const secret = await postBy(priv);
    await mention(secret, priv, stranger);
    await mention(secret, priv, follower);
    // A later, visible mention of the stranger: once it is there, the private one has been handled.
    const open = await postBy(pub);
    await mention(open, pub, stranger);
    await eventually(async () => expect((await notificationsOf(follower)).nodes).toHaveLength(1));
    expect((await notificationsOf(follower)).nodes[0]).toMatchObject({ type: 'MENTION', post: { id: secret } });
    await eventually(async () => expect((await notificationsOf(stranger)).nodes).toHaveLength(1));
    expect((await notificationsOf(stranger)).nodes).toEqual([
      expect.objectContaining({ type: 'MENTION', post: { id: open }, actors: [{ id: pub.id }] }),
    ]);
  });

  it('should hide the post (and comment) of an old notification after an unfollow or a block', async () => {
    const [priv, exFollower, pub, blocked] = [
      await h.createUser({ isPrivate: true }),
      await h.createUser(),
      await h.createUser(),
      await h.createUser(),
    ];
    await h.social(exFollower, 'follow', priv);
    await h.social(priv, 'approveFollowRequest', exFollower);
    const secret = await postBy(priv);
    const commentId = randomUUID();
    await mention(secret, priv, exFollower, commentId);
    const open = await postBy(pub);
    await mention(open, pub, blocked);
    await eventually(async () =>
      expect((await notificationsOf(exFollower)).nodes[0]).toMatchObject({ comment: { id: commentId } }),
    );
    await eventually(async () =>
      expect((await notificationsOf(blocked)).nodes[0]).toMatchObject({ post: { id: open } }),
    );

    await h.social(exFollower, 'unfollow', priv);
    await h.social(pub, 'block', blocked);
    const [ofEx] = (await notificationsOf(exFollower)).nodes;
    expect(ofEx).toMatchObject({ type: 'MENTION', post: null, comment: null });
    const [ofBlocked] = (await notificationsOf(blocked)).nodes;
    expect(ofBlocked).toMatchObject({ type: 'MENTION', post: null });
  });
});

describe('grouped notifications on replicas', () => {
  it('should make one notification with both actors of two concurrent adds to one group', async () => {
    // As two feed replicas handling two likes of one post at once; several groups to give the race a chance.
    const repository = new NotificationsRepository(h.db);
    const userId = randomUUID();
    const groups = Array.from({ length: 10 }, (_, i) => `LIKE:${randomUUID()}:${i}`);
    const at = new Date();
    const add = (groupKey: string, actorId: string) =>
      repository.addActor({ userId, type: 'LIKE', groupKey, postId: null, commentId: null, actorId, at });
    const [a, b] = [randomUUID(), randomUUID()];
    await Promise.all(groups.flatMap((groupKey) => [add(groupKey, a), add(groupKey, b)]));
    const rows = await h.db.notification.findMany({ where: { userId }, include: { actors: true } });
    expect(rows).toHaveLength(groups.length);
    for (const row of rows) {
      expect(row.actorCount).toBe(2);
      expect(row.actors.map((x) => x.actorId).sort()).toEqual([a, b].sort());
    }
  });
});

describe('notifications of many posts at once (feed-posts concurrency)', () => {
  it('should key every POSTS event the feed reads by its post', () => {
    const postId = randomUUID();
    const envelope = { eventId: randomUUID(), occurredAt: new Date().toISOString() };
    const events: [string, object][] = [
      [PostsSubjects.postCreated, { postId, authorId: randomUUID() }],
      [PostsSubjects.postDeleted, { postId, authorId: randomUUID() }],
      [PostsSubjects.postLiked, { postId, postAuthorId: randomUUID(), userId: randomUUID() }],
      [PostsSubjects.postUnliked, { postId, postAuthorId: randomUUID(), userId: randomUUID() }],
      [PostsSubjects.commentAdded, { postId, commentId: randomUUID(), parentId: randomUUID() }],
      [PostsSubjects.mentionCreated, { postId, commentId: randomUUID(), mentionedUserId: randomUUID() }],
    ];
    for (const [subject, data] of events)
      expect(postOrderingKey({ subject, data: { ...envelope, ...data } })).toBe(postId);
  });

  it("should handle the likes and unlikes of many posts side by side and keep each post's in order", async () => {
    const [author, ana, bob] = [await h.createUser(), await h.createUser(), await h.createUser()];
    const posts: string[] = [];
    for (let i = 0; i < 12; i++) posts.push(await postBy(author));
    // Interleaved across posts, as on the stream under load: per post ana likes, bob likes, ana unlikes.
    for (const [user, subject] of [
      [ana, PostsSubjects.postLiked],
      [bob, PostsSubjects.postLiked],
      [ana, PostsSubjects.postUnliked],
    ] as const) {
      for (const postId of posts) await like(postId, author, user, subject);
    }
    await eventually(async () => {
      const { nodes } = await notificationsOf(author, { first: 50 });
      expect(nodes.map((n) => n.post?.id).sort()).toEqual([...posts].sort());
      for (const node of nodes) expect(node).toMatchObject({ type: 'LIKE', actorCount: 1, actors: [{ id: bob.id }] });
    });
    await eventually(() =>
      expect(
        removed
          .filter((e) => e.userId === author.id && e.actorId === ana.id)
          .map((e) => e.postId)
          .sort(),
      ).toEqual([...posts].sort()),
    );
    const { nodes } = await notificationsOf(author, { first: 50 });
    // One post's adds one at a time, in stream order: each notification announced with 1 (ana), then 2 (bob).
    for (const node of nodes) {
      expect(upserted.filter((e) => e.notificationId === node.id).map((e) => e.actorCount)).toEqual([1, 2]);
    }
  });
});
