import { badUserInput } from '@insta/infra';
import { findVariant, pickVariant } from '../delivery.ts';
import type { MediaFailureReason, MediaResolvers, MediaVariantResolvers } from '../generated/graphql.ts';

const FAILURE_REASONS: ReadonlySet<string> = new Set<MediaFailureReason>([
  'UPLOAD_EXPIRED',
  'SIZE_MISMATCH',
  'TYPE_MISMATCH',
  'UNDECODABLE',
  'NO_VIDEO_STREAM',
  'TOO_LONG',
  'OBJECT_CHANGED',
  'VIDEO_PROCESSING_UNAVAILABLE',
  'PROCESSING_FAILED',
]);

export const Media: MediaResolvers = {
  // References come from other subgraphs (a post, an avatar) that already decided to show the media.
  __resolveReference: (ref, ctx) => ctx.loaders.mediaById.load(ref.id),
  // A reason stored by a newer worker than this schema knows still reads as a failure on the server's side.
  failureReason: (media, _, ctx) => {
    if (media.status !== 'FAILED' || media.ownerId !== ctx.identity?.userId || !media.failureReason) return null;
    return FAILURE_REASONS.has(media.failureReason) ? (media.failureReason as MediaFailureReason) : 'PROCESSING_FAILED';
  },
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
