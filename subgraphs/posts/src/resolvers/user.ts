import type { UserResolvers } from '../generated/graphql.ts';

export const User: UserResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
  posts: (user, args, ctx) => ctx.posts.byAuthor(ctx.loaders, user.id, args.first, args.after),
};
