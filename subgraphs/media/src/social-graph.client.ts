import type { InternalClient } from '@insta/infra';

/** What the media subgraph needs to know about a viewer and a media's owner (social-graph's `relations`). */
export interface OwnerRelation {
  targetId: string;
  /** The viewer follows the owner (approved). */
  following: boolean;
  /** A block exists between the two, either way. */
  blocked: boolean;
  /** Social-graph answers true for an account it does not know yet (fail closed). */
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
      blocked
      targetIsPrivate
    }
  }
`;

export function socialGraphClient(client: InternalClient) {
  return {
    async relations(viewerId: string | null, ownerIds: readonly string[]): Promise<OwnerRelation[]> {
      const chunks: string[][] = [];
      for (let i = 0; i < ownerIds.length; i += MAX_TARGETS) chunks.push(ownerIds.slice(i, i + MAX_TARGETS));
      const answers = await Promise.all(
        chunks.map((ids) =>
          client.query<{ relations: OwnerRelation[] }>(RELATIONS, {
            viewerId: viewerId ?? ANONYMOUS_VIEWER_ID,
            targetIds: ids,
          }),
        ),
      );
      return answers.flatMap((a) => a.relations);
    },
  };
}
export type SocialGraphClient = ReturnType<typeof socialGraphClient>;
