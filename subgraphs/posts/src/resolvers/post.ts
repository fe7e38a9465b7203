import type { PostResolvers } from '../generated/graphql.ts';

export const Post: PostResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.postById.load(ref.id),
  author: (post) => ({ __typename: 'User', id: post.authorId }),
};
