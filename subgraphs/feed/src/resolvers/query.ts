import { requireIdentity } from '@insta/infra';
import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  unreadNotificationCount: (_, __, ctx) => ctx.notifications.countUnread(requireIdentity(ctx.identity).userId),
};
