import type { InternalClient } from '@insta/infra';
import type { PostAudience } from './subscriptions.ts';

/** Viewers per call: what posts' `postAudience` takes at once. */
const MAX_VIEWERS = 5000;

const POST_AUDIENCE = /* GraphQL */ `
  query PostAudience($postId: ID!, $viewerIds: [ID!]!) {
    postAudience(postId: $postId, viewerIds: $viewerIds) {
      public
      hiddenFrom
      likedBy
    }
  }
`;

interface Answer {
  postAudience: { public: boolean; hiddenFrom: string[]; likedBy: string[] } | null;
}

/**
 * Per-event authorization of subscriptions (ADR 15): posts' internal `postAudience`, asked as the gateway's service
 * identity, for every viewer of one event at once (one call per 5000 viewers). Null when the post is gone.
 */
export function postAudienceClient(client: InternalClient) {
  return async (postId: string, viewerIds: readonly string[]): Promise<PostAudience | null> => {
    const chunks: string[][] = [];
    for (let i = 0; i < viewerIds.length; i += MAX_VIEWERS) chunks.push(viewerIds.slice(i, i + MAX_VIEWERS));
    if (chunks.length === 0) chunks.push([]);
    const answers = await Promise.all(
      chunks.map((ids) => client.query<Answer>(POST_AUDIENCE, { postId, viewerIds: ids })),
    );
    const first = answers[0]?.postAudience;
    if (!first || answers.some((a) => a.postAudience === null)) return null;
    return {
      public: first.public,
      hiddenFrom: new Set(answers.flatMap((a) => a.postAudience!.hiddenFrom)),
      likedBy: new Set(answers.flatMap((a) => a.postAudience!.likedBy)),
    };
  };
}
