import { isUuid } from '@insta/infra';
import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  media: async (_, { id }, ctx) => {
    const media = isUuid(id) ? await ctx.loaders.mediaById.load(id) : null;
    if (!media) return null;
    return (await ctx.media.visibleTo(media, ctx.identity, (ownerId) => ctx.loaders.relationToOwner.load(ownerId)))
      ? media
      : null;
  },
  mediaSummaries: (_, { ids }, ctx) => ctx.media.summaries(ids),
};
