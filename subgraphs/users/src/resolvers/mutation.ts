import { requireIdentity } from '@insta/infra';
import type { MutationResolvers } from '../generated/graphql.ts';

export const Mutation: MutationResolvers = {
  signUp: (_, { input }, ctx) => ctx.auth.signUp(input),
  signIn: (_, { input }, ctx) => ctx.auth.signIn(input, ctx.clientIp),
  refreshToken: (_, { refreshToken }, ctx) => ctx.auth.refresh(refreshToken),
  signOut: (_, __, ctx) => ctx.auth.signOut(requireIdentity(ctx.identity)),
  updateProfile: (_, { input }, ctx) => ctx.users.updateProfile(requireIdentity(ctx.identity).userId, input),
};
