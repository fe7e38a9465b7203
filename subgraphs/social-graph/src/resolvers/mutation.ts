import { requireIdentity } from '@insta/infra';
import type { Context } from '../context.ts';
import type { MutationResolvers } from '../generated/graphql.ts';

const viewer = (ctx: Context) => requireIdentity(ctx.identity).userId;

export const Mutation: MutationResolvers = {
  follow: (_, { userId }, ctx) => ctx.social.follow(viewer(ctx), userId),
  unfollow: (_, { userId }, ctx) => ctx.social.unfollow(viewer(ctx), userId),
  approveFollowRequest: (_, { userId }, ctx) => ctx.social.approveFollowRequest(viewer(ctx), userId),
  rejectFollowRequest: (_, { userId }, ctx) => ctx.social.rejectFollowRequest(viewer(ctx), userId),
  block: (_, { userId }, ctx) => ctx.social.block(viewer(ctx), userId),
  unblock: (_, { userId }, ctx) => ctx.social.unblock(viewer(ctx), userId),
  mute: (_, { userId }, ctx) => ctx.social.mute(viewer(ctx), userId),
  unmute: (_, { userId }, ctx) => ctx.social.unmute(viewer(ctx), userId),
};
