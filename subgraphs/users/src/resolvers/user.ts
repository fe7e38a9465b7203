import type { UserResolvers } from '../generated/graphql.ts';

export const User: UserResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.userById.load(ref.id),
  avatar: (user) => (user.avatarMediaId ? { __typename: 'Media', id: user.avatarMediaId } : null),
};
