import type { InternalClient } from '@insta/infra';

export interface MediaSummary {
  id: string;
  ownerId: string;
  kind: 'IMAGE' | 'VIDEO';
  status: 'AWAITING_UPLOAD' | 'PROCESSING' | 'READY' | 'FAILED';
}

const MEDIA_SUMMARIES = /* GraphQL */ `
  query MediaSummaries($ids: [ID!]!) {
    mediaSummaries(ids: $ids) {
      id
      ownerId
      kind
      status
    }
  }
`;

/**
 * Media's internal `mediaSummaries` query, for the subgraphs that check media they attach (posts: a post's media;
 * users: an avatar). Published by media, the owner of the contract (`@insta/media/client`).
 */
export function mediaClient(client: InternalClient) {
  return {
    /** Unknown ids are left out. At most 100 ids (a post has at most 10). */
    async summaries(ids: readonly string[]): Promise<MediaSummary[]> {
      const data = await client.query<{ mediaSummaries: MediaSummary[] }>(MEDIA_SUMMARIES, { ids });
      return data.mediaSummaries;
    },
  };
}
export type MediaClient = ReturnType<typeof mediaClient>;
