import { requireIdentity } from '@insta/infra';
import type { MutationResolvers } from '../generated/graphql.ts';

export const Mutation: MutationResolvers = {
  createPost: (_, { input }, ctx) => ctx.posts.create(requireIdentity(ctx.identity).userId, input),
  editPost: (_, { id, input }, ctx) => ctx.posts.edit(ctx.loaders, requireIdentity(ctx.identity).userId, id, input),
  deletePost: (_, { id }, ctx) => ctx.posts.delete(ctx.loaders, requireIdentity(ctx.identity).userId, id),
  likePost: (_, { postId }, ctx) => ctx.posts.like(ctx.loaders, requireIdentity(ctx.identity).userId, postId, true),
  unlikePost: (_, { postId }, ctx) => ctx.posts.like(ctx.loaders, requireIdentity(ctx.identity).userId, postId, false),
  addComment: (_, { input }, ctx) => ctx.comments.add(ctx.loaders, requireIdentity(ctx.identity).userId, input),
  deleteComment: (_, { id }, ctx) => ctx.comments.delete(ctx.loaders, requireIdentity(ctx.identity).userId, id),
};
