import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  me: (_, __, ctx) => (ctx.identity ? ctx.loaders.userById.load(ctx.identity.userId) : null),
  user: (_, args, ctx) => ctx.users.lookup(args, (id) => ctx.loaders.userById.load(id)),
  searchUsers: (_, args, ctx) => ctx.users.search(args.query, args.first, args.after),
  usersByUsernames: (_, { usernames }, ctx) => ctx.users.byUsernames(usernames),
  accountStates: (_, { ids }, ctx) => ctx.users.accountStates(ids),
  sessionRevocations: (_, { since }, ctx) => ctx.auth.revocationsSince(since ? new Date(since) : null),
};
