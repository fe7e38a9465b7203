import { requireIdentity } from '@insta/infra';
import type { MutationResolvers } from '../generated/graphql.ts';

export const Mutation: MutationResolvers = {
  markNotificationsRead: (_, __, ctx) => ctx.notifications.markAllRead(requireIdentity(ctx.identity).userId),
};
