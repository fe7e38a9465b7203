import { requireIdentity } from '@insta/infra';
import type { MutationResolvers } from '../generated/graphql.ts';

export const Mutation: MutationResolvers = {
  requestUpload: (_, { input }, ctx) => ctx.media.requestUpload(requireIdentity(ctx.identity).userId, input),
  completeUpload: (_, { mediaId }, ctx) => ctx.media.completeUpload(requireIdentity(ctx.identity).userId, mediaId),
};
