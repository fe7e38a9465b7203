import type { UserResolvers } from '../generated/graphql.ts';

/** Users without a stats row have no edges yet: their counts are zero. */
export const User: UserResolvers = {
  __resolveReference: (ref) => ref,
  followerCount: async (user, _, ctx) => (await ctx.loaders.statsByUserId.load(user.id))?.followerCount ?? 0,
  followingCount: async (user, _, ctx) => (await ctx.loaders.statsByUserId.load(user.id))?.followingCount ?? 0,
};
