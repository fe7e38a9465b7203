import { isUuid } from '@insta/infra';
import type { QueryResolvers } from '../generated/graphql.ts';

export const Query: QueryResolvers = {
  post: (_, { id }, ctx) => (isUuid(id) ? ctx.loaders.visiblePost(id) : null),
  postAudience: (_, args, ctx) => ctx.audience.of(args.postId, args.viewerIds),
  postsByHashtag: (_, args, ctx) => ctx.posts.byHashtag(ctx.loaders, args.tag, args.first, args.after),
};
