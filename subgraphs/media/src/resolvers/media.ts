import { badUserInput } from '@insta/infra';
import { findVariant, pickVariant } from '../delivery.ts';
import type { MediaResolvers, MediaVariantResolvers } from '../generated/graphql.ts';

export const Media: MediaResolvers = {
  // References come from other subgraphs (a post, an avatar) that already decided to show the media.
  __resolveReference: (ref, ctx) => ctx.loaders.mediaById.load(ref.id),
  url: async (media, { variant }, ctx) => {
    if (media.status !== 'READY') return null;
    const variants = await ctx.loaders.variantsByMediaId.load(media.id);
    // Without a name, a media with nothing fitting to pick (a video without HLS) simply has no URL.
    if (variant == null) {
      const picked = pickVariant(media.kind, variants, ctx.hints);
      return picked ? ctx.objects.publicUrl(picked.objectKey) : null;
    }
    const named = findVariant(variants, variant);
    if (!named) throw badUserInput(`No variant "${variant}"; see Media.variants`, 'variant');
    return ctx.objects.publicUrl(named.objectKey);
  },
  variants: (media, _, ctx) => (media.status === 'READY' ? ctx.loaders.variantsByMediaId.load(media.id) : []),
};

export const MediaVariant: MediaVariantResolvers = {
  url: (variant, _, ctx) => ctx.objects.publicUrl(variant.objectKey),
};
