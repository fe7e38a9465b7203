import type { Context } from '../context.ts';
import type { UserResolvers } from '../generated/graphql.ts';
import { followStatus } from '../social.service.ts';

const viewerOf = (ctx: Context) => ctx.identity?.userId ?? null;

/** Users without a stats row have no edges yet: their counts are zero. */
export const User: UserResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
  followerCount: async (user, _, ctx) => (await ctx.loaders.statsByUserId.load(user.id))?.followerCount ?? 0,
  followingCount: async (user, _, ctx) => (await ctx.loaders.statsByUserId.load(user.id))?.followingCount ?? 0,
  followers: (user, args, ctx) =>
    ctx.social.edgeList(
      'followers',
      user,
      viewerOf(ctx),
      () => ctx.loaders.relation.load(user.id),
      args.first,
      args.after,
    ),
  following: (user, args, ctx) =>
    ctx.social.edgeList(
      'following',
      user,
      viewerOf(ctx),
      () => ctx.loaders.relation.load(user.id),
      args.first,
      args.after,
    ),
  viewerFollowStatus: async (user, _, ctx) => {
    const viewerId = viewerOf(ctx);
    if (!viewerId || viewerId === user.id) return 'NONE';
    return followStatus(await ctx.loaders.relation.load(user.id));
  },
  followsViewer: async (user, _, ctx) => {
    const viewerId = viewerOf(ctx);
    if (!viewerId || viewerId === user.id) return false;
    return (await ctx.loaders.relation.load(user.id)).followedBy;
  },
};
