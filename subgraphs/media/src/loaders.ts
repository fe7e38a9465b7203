import { keyedLoader, namedLoader } from '@insta/infra';
import type { MediaRepository, VariantRecord } from './media.repository.ts';
import type { Relation, SocialGraphClient } from '@insta/social-graph/client';

/** What media needs of the viewer's relation to a media's owner. */
export type OwnerRelation = Pick<Relation, 'targetId' | 'following' | 'blocked' | 'targetIsPrivate'>;

/** Loaders of one request; `viewerId` is its signed-in user (null when anonymous). */
export function createLoaders(media: MediaRepository, social: SocialGraphClient, viewerId: string | null) {
  return {
    mediaById: keyedLoader(
      'media.mediaById',
      (ids: readonly string[]) => media.findByIds(ids),
      (m) => m.id,
    ),
    variantsByMediaId: namedLoader<string, VariantRecord[]>('media.variantsByMediaId', async (ids) => {
      const variants = await media.variantsOf(ids);
      return ids.map((id) => variants.filter((v) => v.mediaId === id));
    }),
    /** The viewer's relation to each media owner (and whether the owner is private), one social-graph call per batch. */
    relationToOwner: namedLoader<string, OwnerRelation>('media.relationToOwner', async (ownerIds) => {
      const relations = await social.relations(viewerId, ownerIds);
      const byId = new Map(relations.map((r) => [r.targetId, r]));
      // An owner social-graph left out is treated as private and unrelated: fail closed.
      return ownerIds.map(
        (id) => byId.get(id) ?? { targetId: id, following: false, blocked: true, targetIsPrivate: true },
      );
    }),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
