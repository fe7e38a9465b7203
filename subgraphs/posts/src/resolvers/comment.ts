import { notFound } from '@insta/infra';
import type { CommentResolvers } from '../generated/graphql.ts';

export const Comment: CommentResolvers = {
  __resolveReference: (ref, ctx) => ctx.comments.visible(ctx.loaders, ref.id),
  post: async (comment, _, ctx) => {
    const post = await ctx.loaders.visiblePost(comment.postId);
    if (!post) throw notFound('Post not found');
    return post;
  },
  author: (comment) => ({ id: comment.authorId }),
  parent: (comment, _, ctx) => (comment.parentId ? ctx.loaders.commentById.load(comment.parentId) : null),
  replies: (comment, args, ctx) => ctx.comments.page(ctx.loaders, 'replies', comment.id, args.first, args.after),
};
