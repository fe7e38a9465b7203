import { InternalRequestError, isTransientError, TransientError, type InternalClient } from '@insta/infra';

export interface FollowerPage {
  ids: string[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Where the fan-out gets an author's followers (social-graph in production; a fake can stand in for tests). */
export interface FollowerSource {
  followerCount(userId: string): Promise<number>;
  /** One keyset page of follower ids (up to 5000). */
  followerIds(userId: string, first: number, after: string | null): Promise<FollowerPage>;
}

const FOLLOWER_COUNT = /* GraphQL */ `
  query FollowerCount($r: [_Any!]!) {
    _entities(representations: $r) {
      ... on User {
        followerCount
      }
    }
  }
`;

const FOLLOWER_IDS = /* GraphQL */ `
  query FollowerIds($userId: ID!, $first: Int, $after: String) {
    followerIds(userId: $userId, first: $first, after: $after) {
      ids
      endCursor
      hasNextPage
    }
  }
`;

/** Codes of answers about the request itself: the event that asked cannot succeed by retrying (poison). */
const REQUEST_CODES = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED']);

const aboutTheRequest = (error: unknown) =>
  error instanceof InternalRequestError &&
  Array.isArray(error.errors) &&
  error.errors.some((e: { extensions?: { code?: unknown } }) => REQUEST_CODES.has(String(e?.extensions?.code)));

/**
 * For the fan-out, social-graph failing is infrastructure, whatever it answers (an INTERNAL_SERVER_ERROR while its
 * database is down, a proxy's HTML page): transient, so the post is retried until social-graph is back instead of
 * being dead-lettered. Only an answer about the request itself stays poison.
 */
async function classified<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (aboutTheRequest(error) || isTransientError(error)) throw error;
    throw new TransientError('social-graph could not answer', { cause: error });
  }
}

export function socialGraphFollowerSource(client: Pick<InternalClient, 'query'>): FollowerSource {
  return {
    followerCount: (userId) =>
      classified(async () => {
        const data = await client.query<{ _entities: ({ followerCount: number } | null)[] }>(FOLLOWER_COUNT, {
          r: [{ __typename: 'User', id: userId }],
        });
        return data._entities[0]?.followerCount ?? 0;
      }),
    followerIds: (userId, first, after) =>
      classified(async () => {
        const data = await client.query<{ followerIds: FollowerPage }>(FOLLOWER_IDS, { userId, first, after });
        return data.followerIds;
      }),
  };
}

/** Whose posts a viewer may see: the viewer's own, public accounts' and followed private accounts', never across a block. */
export interface AuthorAccess {
  visibleAuthors(viewerId: string, authorIds: readonly string[]): Promise<Set<string>>;
}

const RELATIONS = /* GraphQL */ `
  query Relations($viewerId: ID!, $targetIds: [ID!]!) {
    relations(viewerId: $viewerId, targetIds: $targetIds) {
      targetId
      following
      blocked
      targetIsPrivate
    }
  }
`;
const MAX_TARGETS = 500;

export function socialGraphAuthorAccess(client: InternalClient): AuthorAccess {
  return {
    async visibleAuthors(viewerId, authorIds) {
      const visible = new Set<string>(authorIds.filter((id) => id === viewerId));
      const others = [...new Set(authorIds.filter((id) => id !== viewerId))];
      for (let i = 0; i < others.length; i += MAX_TARGETS) {
        const data = await client.query<{
          relations: { targetId: string; following: boolean; blocked: boolean; targetIsPrivate: boolean }[];
        }>(RELATIONS, { viewerId, targetIds: others.slice(i, i + MAX_TARGETS) });
        for (const r of data.relations) if (!r.blocked && (!r.targetIsPrivate || r.following)) visible.add(r.targetId);
      }
      return visible;
    },
  };
}
