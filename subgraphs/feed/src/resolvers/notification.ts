import { badUserInput, MAX_PAGE_SIZE } from '@insta/infra';
import type { NotificationResolvers } from '../generated/graphql.ts';

const DEFAULT_ACTORS = 3;

export const Notification: NotificationResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.ownNotification.load(ref.id),
  actors: async (notification, { first }, ctx) => {
    const limit = first ?? DEFAULT_ACTORS;
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE_SIZE)
      throw badUserInput(`first must be between 0 and ${MAX_PAGE_SIZE}`, 'first');
    if (limit === 0) return [];
    const ids = await ctx.loaders.actors(limit).load(notification.id);
    return ids.map((id) => ({ __typename: 'User' as const, id }));
  },
  // Checked here, not only by posts: a query for `post { id }` alone never reaches the posts subgraph.
  post: async (notification, _, ctx) =>
    notification.postId && (await ctx.loaders.postVisible.load(notification.postId))
      ? { __typename: 'Post', id: notification.postId }
      : null,
  comment: async (notification, _, ctx) =>
    notification.commentId && notification.postId && (await ctx.loaders.postVisible.load(notification.postId))
      ? { __typename: 'Comment' as const, id: notification.commentId }
      : null,
  read: (notification) => notification.readAt !== null,
};
