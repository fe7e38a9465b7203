import { requireIdentity } from '@insta/infra';
import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  followRequests: (_, args, ctx) =>
    ctx.social.followRequests(requireIdentity(ctx.identity).userId, args.first, args.after),
  relations: (_, args, ctx) => ctx.social.relations(args.viewerId, args.targetIds),
  audience: (_, args, ctx) => ctx.social.audience(args.targetId, args.viewerIds),
  followerIds: (_, args, ctx) => ctx.social.followerIds(args.userId, args.first, args.after),
  mutedOrBlocked: (_, args, ctx) => ctx.social.mutedOrBlocked(args.pairs),
};
