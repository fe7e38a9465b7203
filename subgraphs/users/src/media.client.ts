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

export function mediaClient(client: InternalClient) {
  return {
    /** The media with this id, or null when media does not know it. */
    async summary(id: string): Promise<MediaSummary | null> {
      const data = await client.query<{ mediaSummaries: MediaSummary[] }>(MEDIA_SUMMARIES, { ids: [id] });
      return data.mediaSummaries[0] ?? null;
    },
  };
}
export type MediaClient = ReturnType<typeof mediaClient>;
