import type { InternalClient } from '@insta/infra';

/**
 * Social-graph's internal `relations` query: the viewer's relation to each account, for the subgraphs that decide
 * visibility (posts, media). Published by social-graph, the owner of the contract (`@insta/social-graph/client`).
 */
export interface Relation {
  targetId: string;
  /** The viewer follows the target (approved). */
  following: boolean;
  requested: boolean;
  /** A block exists between the two, either way. */
  blocked: boolean;
  muted: boolean;
  /** True for an account social-graph does not know yet (fail closed). */
  targetIsPrivate: boolean;
}

/** Social-graph answers `following: false` for a viewer it does not know: what anonymous viewers are asked as. */
export const ANONYMOUS_VIEWER_ID = '00000000-0000-0000-0000-000000000000';

const MAX_TARGETS = 500;

const RELATIONS = /* GraphQL */ `
  query Relations($viewerId: ID!, $targetIds: [ID!]!) {
    relations(viewerId: $viewerId, targetIds: $targetIds) {
      targetId
      following
      requested
      blocked
      muted
      targetIsPrivate
    }
  }
`;

const MAX_VIEWERS = 5000;

interface AudienceAnswer {
  targetIsPrivate: boolean;
  following: string[];
  requested: string[];
  blocked: string[];
  muted: string[];
}

/** Social-graph's internal `audience`: the viewers asked who have each relation to one target. */
export interface Audience {
  targetIsPrivate: boolean;
  following: ReadonlySet<string>;
  requested: ReadonlySet<string>;
  blocked: ReadonlySet<string>;
  muted: ReadonlySet<string>;
}

const AUDIENCE = /* GraphQL */ `
  query Audience($targetId: ID!, $viewerIds: [ID!]!) {
    audience(targetId: $targetId, viewerIds: $viewerIds) {
      targetIsPrivate
      following
      requested
      blocked
      muted
    }
  }
`;

export function socialGraphClient(client: InternalClient) {
  return {
    /** `viewerId` null: an anonymous viewer, asked as one social-graph does not know. */
    async relations(viewerId: string | null, targetIds: readonly string[]): Promise<Relation[]> {
      const chunks: string[][] = [];
      for (let i = 0; i < targetIds.length; i += MAX_TARGETS) chunks.push(targetIds.slice(i, i + MAX_TARGETS));
      const answers = await Promise.all(
        chunks.map((ids) =>
          client.query<{ relations: Relation[] }>(RELATIONS, {
            viewerId: viewerId ?? ANONYMOUS_VIEWER_ID,
            targetIds: ids,
          }),
        ),
      );
      return answers.flatMap((a) => a.relations);
    },
    /**
     * Which of these viewers relate to one target, and how: sets of viewer ids (lower-case), one call per 5000
     * viewers. `targetIsPrivate` as in `relations` (true for an account social-graph does not know).
     */
    async audience(targetId: string, viewerIds: readonly string[]): Promise<Audience> {
      const chunks: string[][] = [];
      for (let i = 0; i < viewerIds.length; i += MAX_VIEWERS) chunks.push(viewerIds.slice(i, i + MAX_VIEWERS));
      if (chunks.length === 0) chunks.push([]);
      const answers = await Promise.all(
        chunks.map((ids) => client.query<{ audience: AudienceAnswer }>(AUDIENCE, { targetId, viewerIds: ids })),
      );
      const set = (key: 'following' | 'requested' | 'blocked' | 'muted') =>
        new Set(answers.flatMap((a) => a.audience[key]));
      return {
        targetIsPrivate: answers.some((a) => a.audience.targetIsPrivate),
        following: set('following'),
        requested: set('requested'),
        blocked: set('blocked'),
        muted: set('muted'),
      };
    },
  };
}
export type SocialGraphClient = ReturnType<typeof socialGraphClient>;
