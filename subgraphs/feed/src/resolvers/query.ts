import { requireIdentity } from '@insta/infra';
import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  feed: (_, { first, after }, ctx) => ctx.feed.page(requireIdentity(ctx.identity).userId, first, after),
  notifications: (_, { first, after }, ctx) =>
    ctx.notifications.page(requireIdentity(ctx.identity).userId, first, after),
  unreadNotificationCount: (_, __, ctx) => ctx.notifications.countUnread(requireIdentity(ctx.identity).userId),
};
