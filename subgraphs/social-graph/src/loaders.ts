import { keyedLoader, namedLoader } from '@insta/infra';
import type { SocialRepository } from './social.repository.ts';
import type { SocialService } from './social.service.ts';

/** Per request: the viewer's relation to each user asked about, and each user's counters, one query per batch. */
export function createLoaders(repo: SocialRepository, social: SocialService, viewerId: string | null) {
  return {
    statsByUserId: keyedLoader(
      'social-graph.statsByUserId',
      (ids: readonly string[]) => repo.findStats(ids),
      (s) => s.userId,
    ),
    relation: namedLoader('social-graph.relation', (ids: readonly string[]) => social.relationsOf(viewerId, ids)),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
