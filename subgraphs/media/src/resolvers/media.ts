import { badUserInput } from '@insta/infra';
import { findVariant, pickVariant } from '../delivery.ts';
import type { MediaResolvers, MediaVariantResolvers } from '../generated/graphql.ts';

export const Media: MediaResolvers = {
  // References come from other subgraphs (a post, an avatar) that already decided to show the media.
  __resolveReference: (ref, ctx) => ctx.loaders.mediaById.load(ref.id),
  url: async (media, { variant }, ctx) => {
    if (media.status !== 'READY') return null;
    const variants = await ctx.loaders.variantsByMediaId.load(media.id);
    const chosen = variant == null ? pickVariant(media.kind, variants, ctx.hints) : findVariant(variants, variant);
    if (!chosen) throw badUserInput(`No variant "${variant}"; see Media.variants`, 'variant');
    return ctx.objects.publicUrl(chosen.objectKey);
  },
  variants: (media, _, ctx) => (media.status === 'READY' ? ctx.loaders.variantsByMediaId.load(media.id) : []),
};

export const MediaVariant: MediaVariantResolvers = {
  url: (variant, _, ctx) => ctx.objects.publicUrl(variant.objectKey),
};
