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

const AUDIENCE = /* GraphQL */ `
  query Audience($targetId: ID!, $viewerIds: [ID!]!) {
    audience(targetId: $targetId, viewerIds: $viewerIds) {
      targetId
      following
      requested
      blocked
      muted
      targetIsPrivate
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
    /** How each of these viewers relates to one target, in the order given (one call per 5000 viewers). */
    async audience(targetId: string, viewerIds: readonly string[]): Promise<Relation[]> {
      const chunks: string[][] = [];
      for (let i = 0; i < viewerIds.length; i += MAX_VIEWERS) chunks.push(viewerIds.slice(i, i + MAX_VIEWERS));
      const answers = await Promise.all(
        chunks.map((ids) => client.query<{ audience: Relation[] }>(AUDIENCE, { targetId, viewerIds: ids })),
      );
      return answers.flatMap((a) => a.audience);
    },
  };
}
export type SocialGraphClient = ReturnType<typeof socialGraphClient>;
