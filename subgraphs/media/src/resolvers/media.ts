import { badUserInput } from '@insta/infra';
import type { Context } from '../context.ts';
import { findVariant, pickVariant } from '../delivery.ts';
import type { MediaFailureReason, MediaResolvers, MediaVariantResolvers } from '../generated/graphql.ts';
import type { VariantRecord } from '../media.repository.ts';

const urlOf = async (variant: VariantRecord, ownerId: string, ctx: Context) =>
  ctx.media.variantUrl(variant, async () => (await ctx.loaders.relationToOwner.load(ownerId)).targetIsPrivate);

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
      return picked ? urlOf(picked, media.ownerId, ctx) : null;
    }
    const named = findVariant(variants, variant);
    if (!named) throw badUserInput(`No variant "${variant}"; see Media.variants`, 'variant');
    return urlOf(named, media.ownerId, ctx);
  },
  variants: (media, _, ctx) => (media.status === 'READY' ? ctx.loaders.variantsByMediaId.load(media.id) : []),
};

export const MediaVariant: MediaVariantResolvers = {
  url: async (variant, _, ctx) => {
    const media = await ctx.loaders.mediaById.load(variant.mediaId);
    if (media) return urlOf(variant, media.ownerId, ctx);
    return ctx.media.variantUrl(variant, async () => true);
  },
};
