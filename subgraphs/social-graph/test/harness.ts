import { randomUUID } from 'node:crypto';
import { expect, vi } from 'vitest';
import type { PrismaClient } from '@insta/db';
import {
  SOCIAL_STREAM,
  UsersSubjects,
  type EventEnvelope,
  type UserCreatedEvent,
  type UserUpdatedEvent,
} from '@insta/events';
import { TransientError, type BusMessage, type Consumer, type EventBus, type Identity } from '@insta/infra';
import { startSubgraphHarness } from '@insta/test-support';
import { loadSocialGraphConfig, startSocialGraphSubgraph, type SocialGraphDeps } from '../src/server.ts';
import type { AccountSource } from '../src/users.client.ts';

/** The owner of accounts as these tests see it: knows nobody unless a test adds to `known` (users is not running). */
export function fakeAccountSource() {
  const known = new Map<string, { isPrivate: boolean; updatedAt: Date }>();
  const source: AccountSource & { known: typeof known; down: boolean; calls: string[][] } = {
    known,
    down: false,
    calls: [],
    async accountStates(ids) {
      source.calls.push([...ids]);
      if (source.down) throw new TransientError('users is unreachable');
      return ids.flatMap((userId) => {
        const state = known.get(userId);
        return state ? [{ userId, ...state }] : [];
      });
    },
  };
  return source;
}

export const startSocialHarness = (
  start: (deps: SocialGraphDeps) => ReturnType<typeof startSocialGraphSubgraph> = startSocialGraphSubgraph,
  accounts: AccountSource = fakeAccountSource(),
) =>
  startSubgraphHarness({
    name: 'social-graph',
    loadConfig: loadSocialGraphConfig,
    start: (deps) => start({ ...deps, accounts }),
  });
export type SocialHarness = Awaited<ReturnType<typeof startSocialHarness>>;

/** Waits for asynchronous effects (events, the replica) without a fixed sleep. */
export const eventually = (assertion: () => unknown) => vi.waitFor(assertion, { timeout: 10_000, interval: 20 });

export interface TestUser {
  id: string;
  identity: Identity;
}

/**
 * Creates a user the way the users subgraph does: a `users.user.created` event on the harness's bus, then waits
 * until the social-graph replica has it.
 */
export async function createUser(h: SocialHarness, options: { isPrivate?: boolean } = {}): Promise<TestUser> {
  const id = randomUUID();
  const event: UserCreatedEvent = {
    userId: id,
    username: `u_${id.slice(0, 8)}`,
    isPrivate: options.isPrivate ?? false,
    createdAt: new Date().toISOString(),
  };
  await publishUsersEvent(h.bus, UsersSubjects.userCreated, event);
  await eventually(async () => expect(await h.db.socialAccount.findUnique({ where: { userId: id } })).not.toBeNull());
  return { id, identity: { userId: id, sessionId: randomUUID() } };
}

/** `users.user.updated` with a new privacy setting; resolves once the replica applied it. */
export async function setPrivate(h: SocialHarness, user: TestUser, isPrivate: boolean, occurredAt = new Date()) {
  const event: UserUpdatedEvent = { userId: user.id, isPrivate, changed: ['isPrivate'] };
  await publishUsersEvent(h.bus, UsersSubjects.userUpdated, event, occurredAt);
  await eventually(async () => {
    const account = await h.db.socialAccount.findUniqueOrThrow({ where: { userId: user.id } });
    expect(account.syncedAt.getTime()).toBeGreaterThanOrEqual(occurredAt.getTime());
  });
}

export async function publishUsersEvent(bus: EventBus, subject: string, event: object, occurredAt = new Date()) {
  const eventId = randomUUID();
  await bus.publish(subject, { ...event, eventId, occurredAt: occurredAt.toISOString() }, { msgId: eventId });
}

export type SocialEvent = BusMessage<Record<string, string> & EventEnvelope>;

/** Collects everything published on the SOCIAL stream of the harness. */
export async function collectSocialEvents(bus: EventBus, durable = 'test-reader') {
  const received: SocialEvent[] = [];
  await bus.ensureStream(SOCIAL_STREAM);
  const consumer: Consumer = await bus.consume<SocialEvent['data']>({
    stream: SOCIAL_STREAM.name,
    durable,
    filterSubject: 'social.>',
    maxDeliver: 1,
    handler: async (m) => void received.push(m),
  });
  /** Events of `subject` that mention every given id among their payload values. */
  const of = (subject: string, ...ids: string[]) =>
    received.filter((m) => m.subject === subject && ids.every((id) => Object.values(m.data).includes(id)));
  return { received, of, stop: () => consumer.stop() };
}

export async function counts(h: SocialHarness, ...users: TestUser[]) {
  const res = await h.request(
    'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { followerCount followingCount } } }',
    { r: users.map((u) => ({ __typename: 'User', id: u.id })) },
  );
  return res.body.data!._entities as { followerCount: number; followingCount: number }[];
}

/** The counters must equal what the edges say, for every user. */
export async function expectExactCounts(db: PrismaClient) {
  const mismatches = await db.$queryRaw<unknown[]>`
    WITH actual AS (
      SELECT u AS user_id,
        (SELECT count(*) FROM social.follows WHERE followee_id = u)::int AS followers,
        (SELECT count(*) FROM social.follows WHERE follower_id = u)::int AS following
      FROM (SELECT follower_id AS u FROM social.follows UNION SELECT followee_id FROM social.follows
            UNION SELECT user_id FROM social.user_stats) users
    )
    SELECT a.user_id::text, a.followers, a.following, s.follower_count, s.following_count
    FROM actual a LEFT JOIN social.user_stats s USING (user_id)
    WHERE coalesce(s.follower_count, 0) <> a.followers OR coalesce(s.following_count, 0) <> a.following`;
  expect(mismatches).toEqual([]);
}

export const FOLLOW = 'mutation($id: ID!) { follow(userId: $id) }';
export const UNFOLLOW = 'mutation($id: ID!) { unfollow(userId: $id) }';
export const APPROVE = 'mutation($id: ID!) { approveFollowRequest(userId: $id) }';
export const REJECT = 'mutation($id: ID!) { rejectFollowRequest(userId: $id) }';
export const BLOCK = 'mutation($id: ID!) { block(userId: $id) }';
export const UNBLOCK = 'mutation($id: ID!) { unblock(userId: $id) }';
export const MUTE = 'mutation($id: ID!) { mute(userId: $id) }';
export const UNMUTE = 'mutation($id: ID!) { unmute(userId: $id) }';

const LIST_FIELDS = 'edges { cursor node { id } } pageInfo { hasNextPage endCursor }';
export const FOLLOWERS = `query($r: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $r) { ... on User { followers(first: $first, after: $after) { ${LIST_FIELDS} } } } }`;
export const FOLLOWING = `query($r: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $r) { ... on User { following(first: $first, after: $after) { ${LIST_FIELDS} } } } }`;
export const FOLLOW_REQUESTS = `query($first: Int, $after: String) { followRequests(first: $first, after: $after) { ${LIST_FIELDS} } }`;

export interface Page {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** One page of `user.followers` or `user.following` as `viewer` (null: not signed in). */
export async function listPage(
  h: SocialHarness,
  kind: 'followers' | 'following',
  user: TestUser,
  viewer: TestUser | null,
  variables: { first?: number; after?: string | null } = {},
) {
  const res = await h.request(
    kind === 'followers' ? FOLLOWERS : FOLLOWING,
    { r: [{ __typename: 'User', id: user.id }], ...variables },
    viewer?.identity ?? null,
  );
  return { res, page: res.body.data?._entities?.[0]?.[kind] as Page | undefined };
}

export const ids = (page: Page | undefined) => page?.edges.map((e) => e.node.id) ?? [];

export const RELATIONS = `query($v: ID!, $t: [ID!]!) {
  relations(viewerId: $v, targetIds: $t) { targetId following requested blocked muted targetIsPrivate } }`;

export const VIEWER_STATUS = `query($r: [_Any!]!) {
  _entities(representations: $r) { ... on User { id viewerFollowStatus followsViewer } } }`;

export async function statusOf(h: SocialHarness, viewer: TestUser | null, target: TestUser) {
  const res = await h.request(VIEWER_STATUS, { r: [{ __typename: 'User', id: target.id }] }, viewer?.identity ?? null);
  return res.body.data!._entities[0] as { id: string; viewerFollowStatus: string; followsViewer: boolean };
}

export const codeOf = (res: { body: { errors?: { extensions?: { code?: string } }[] } }) =>
  res.body.errors?.[0]?.extensions?.code;
