import type { InternalClient } from '@insta/infra';

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

export function socialGraphFollowerSource(client: InternalClient): FollowerSource {
  return {
    async followerCount(userId) {
      const data = await client.query<{ _entities: ({ followerCount: number } | null)[] }>(FOLLOWER_COUNT, {
        r: [{ __typename: 'User', id: userId }],
      });
      return data._entities[0]?.followerCount ?? 0;
    },
    async followerIds(userId, first, after) {
      const data = await client.query<{ followerIds: FollowerPage }>(FOLLOWER_IDS, { userId, first, after });
      return data.followerIds;
    },
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
