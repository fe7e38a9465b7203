import { isUuid } from '@insta/infra';
import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  media: (_, { id }, ctx) => (isUuid(id) ? ctx.loaders.mediaById.load(id) : null),
};
