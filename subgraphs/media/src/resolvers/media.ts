import type { MediaResolvers } from '../generated/graphql.ts';

export const Media: MediaResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.mediaById.load(ref.id),
};
