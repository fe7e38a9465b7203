import type { PostResolvers } from '../generated/graphql.ts';
import { hashtagsOf } from '../text.ts';

export const Post: PostResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.visiblePost(ref.id),
  author: (post) => ({ id: post.authorId }),
  // Hashtags are a pure function of the text: parsing beats a query.
  hashtags: (post) => hashtagsOf(post.text),
  mentions: async (post, _, ctx) => (await ctx.loaders.mentionIds.load(post.id)).map((id) => ({ id })),
  media: async (post, _, ctx) => (await ctx.loaders.mediaIds.load(post.id)).map((id) => ({ __typename: 'Media', id })),
  viewerHasLiked: (post, _, ctx) => ctx.loaders.viewerHasLiked.load(post.id),
  comments: (post, args, ctx) => ctx.comments.page(ctx.loaders, 'post', post.id, args.first, args.after),
};
