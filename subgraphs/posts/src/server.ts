import type { PrismaClient } from '@insta/db';
import {
  commonServerOptions,
  DateTimeScalar,
  startSubgraphServer,
  subgraphSchema,
  type RunningServer,
  type SubgraphDeps,
} from '@insta/infra';
import type { PostsConfig } from './config.ts';
import type { Context } from './context.ts';
import type { Resolvers } from './generated/graphql.ts';
import { createLoaders } from './loaders.ts';
import { PostsRepository } from './posts.repository.ts';
import { Post } from './resolvers/post.ts';
import { Query } from './resolvers/query.ts';

const resolvers: Resolvers = { DateTime: DateTimeScalar, Query, Post };

export async function startPostsSubgraph(deps: SubgraphDeps<PostsConfig, PrismaClient>): Promise<RunningServer> {
  const posts = new PostsRepository(deps.db);
  return startSubgraphServer<Context>({
    ...commonServerOptions('posts', deps),
    schema: subgraphSchema('posts', resolvers),
    context: ({ identity }) => ({ identity, loaders: createLoaders(posts) }),
  });
}

export { loadPostsConfig, type PostsConfig } from './config.ts';
