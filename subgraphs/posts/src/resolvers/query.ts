import { isUuid } from '@insta/infra';
import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  post: (_, { id }, ctx) => (isUuid(id) ? ctx.loaders.postById.load(id) : null),
};
