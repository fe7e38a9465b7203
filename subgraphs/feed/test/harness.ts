import { randomUUID } from 'node:crypto';
import { expect, vi } from 'vitest';
import {
  PostsSubjects,
  UsersSubjects,
  type PostCreatedEvent,
  type PostDeletedEvent,
  type UserCreatedEvent,
} from '@insta/events';
import { type EventBus, type Identity, type RunningServer } from '@insta/infra';
import { postSignedGraphQL, TEST_SECRETS } from '@insta/infra/testing';
import { loadSocialGraphConfig, startSocialGraphSubgraph } from '@insta/social-graph';
import { startSubgraphHarness } from '@insta/test-support';
import { loadFeedConfig, startFeedSubgraph, type FeedDeps } from '../src/server.ts';

/** Waits for asynchronous effects (events, fan-out) without a fixed sleep. */
export const eventually = (assertion: () => unknown) => vi.waitFor(assertion, { timeout: 15_000, interval: 25 });

export interface TestUser {
  id: string;
  identity: Identity;
}

const DAY_MS = 86_400_000;

/** A `posts.post.created` payload: a new post by `authorId`, without hashtags, mentions or media. */
export const postCreatedEvent = (authorId: string, createdAt = new Date()): PostCreatedEvent => ({
  postId: randomUUID(),
  authorId,
  createdAt: createdAt.toISOString(),
  hashtags: [],
  mentionedUserIds: [],
  mediaIds: [],
});

/** Publishes an event the way an outbox relay does: envelope fields, eventId as msgId. */
export async function publishEvent(bus: EventBus, subject: string, event: object, occurredAt = new Date()) {
  const eventId = randomUUID();
  await bus.publish(subject, { ...event, eventId, occurredAt: occurredAt.toISOString() }, { msgId: eventId });
}

/**
 * The feed subgraph and the real social-graph subgraph over one fresh database, the real Redis and NATS. Users
 * and posts are made by publishing the users and posts subgraphs' events; follows go through social-graph.
 */
export async function startFeedHarness(env: Record<string, string> = {}, overrides: Partial<FeedDeps> = {}) {
  let social: RunningServer | undefined;
  const h = await startSubgraphHarness({
    name: 'feed',
    loadConfig: loadFeedConfig,
    env: { FEED_CELEBRITY_FOLLOWERS: '3', ...env },
    start: async (deps) => {
      const socialConfig = loadSocialGraphConfig({ ...TEST_SECRETS, PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test' });
      // Users is not running: social-graph knows accounts from the users events the tests publish, nothing else.
      const started = await startSocialGraphSubgraph({
        ...deps,
        config: socialConfig,
        accounts: { accountStates: async () => [] },
      });
      social = started;
      try {
        const feed = await startFeedSubgraph({
          ...deps,
          ...overrides,
          config: { ...deps.config, SOCIAL_GRAPH_URL: started.url },
        });
        return {
          ...feed,
          async stop() {
            await feed.stop();
            await started.stop();
          },
        };
      } catch (error) {
        await started.stop();
        throw error;
      }
    },
  });
  const socialUrl = social!.url;

  const socialRequest = (query: string, variables: Record<string, unknown>, identity: Identity) =>
    postSignedGraphQL<Record<string, any>>(
      socialUrl,
      { audience: 'social-graph', principal: identity },
      query,
      variables,
    );

  let clock = Date.now() - 60_000;
  const posts = new Map<string, PostCreatedEvent>();

  return {
    ...h,
    /** A user known to social-graph and the feed; `active: false` last signed in a month ago. */
    async createUser(options: { active?: boolean; isPrivate?: boolean } = {}): Promise<TestUser> {
      const id = randomUUID();
      const createdAt = new Date(options.active === false ? Date.now() - 30 * DAY_MS : Date.now());
      const event: UserCreatedEvent = {
        userId: id,
        username: `u_${id.slice(0, 8)}`,
        isPrivate: options.isPrivate ?? false,
        createdAt: createdAt.toISOString(),
      };
      await publishEvent(h.bus, UsersSubjects.userCreated, event, createdAt);
      await eventually(async () => {
        expect(await h.db.socialAccount.findUnique({ where: { userId: id } })).not.toBeNull();
        expect(await h.db.feedUser.findUnique({ where: { userId: id } })).not.toBeNull();
      });
      return { id, identity: { userId: id, sessionId: randomUUID() } };
    },

    /** A social-graph mutation (follow, unfollow, block, mute ...) as `user` on `target`. */
    async social(
      user: TestUser,
      mutation: 'follow' | 'unfollow' | 'block' | 'unblock' | 'mute' | 'unmute' | 'approveFollowRequest',
      target: TestUser,
    ) {
      const res = await socialRequest(
        `mutation($id: ID!) { ${mutation}(userId: $id) }`,
        { id: target.id },
        user.identity,
      );
      expect(res.body.errors).toBeUndefined();
    },

    /** Follows and waits until the feed's replica has the edge. */
    async follow(follower: TestUser, followee: TestUser) {
      await this.social(follower, 'follow', followee);
      await eventually(async () =>
        expect(
          await h.db.feedFollow.count({ where: { followerId: follower.id, followeeId: followee.id, active: true } }),
        ).toBe(1),
      );
    },

    /** Publishes `posts.post.created`; each post is one second newer than the previous one. */
    async post(author: TestUser): Promise<string> {
      clock += 1_000;
      const event = postCreatedEvent(author.id, new Date(clock));
      await publishEvent(h.bus, PostsSubjects.postCreated, event);
      posts.set(event.postId, event);
      return event.postId;
    },

    async deletePost(postId: string) {
      const post = posts.get(postId)!;
      const event: PostDeletedEvent = {
        postId,
        authorId: post.authorId,
        createdAt: post.createdAt,
        deletedAt: new Date().toISOString(),
      };
      await publishEvent(h.bus, PostsSubjects.postDeleted, event);
      await eventually(async () =>
        expect((await h.db.feedPost.findUnique({ where: { postId } }))?.deletedAt).toBeTruthy(),
      );
    },

    /** The post ids of the user's Redis timeline, newest first. */
    async timeline(user: TestUser): Promise<string[]> {
      return (await h.kv.zrangeDesc(`feed:tl:${user.id}`, null, 10_000)).map((m) => m.member);
    },

    async feed(user: TestUser, variables: { first?: number; after?: string } = {}) {
      const res = await h.request(
        'query($first: Int, $after: String) { feed(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
        variables,
        user.identity,
      );
      expect(res.body.errors).toBeUndefined();
      const feed = res.body.data!.feed as {
        edges: { cursor: string; node: { id: string } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
      return { ids: feed.edges.map((e) => e.node.id), pageInfo: feed.pageInfo };
    },
  };
}
export type FeedHarness = Awaited<ReturnType<typeof startFeedHarness>>;
