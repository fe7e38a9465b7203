import type { PrismaClient } from '@insta/db';
import { commonServerOptions, startSubgraphServer, subgraphSchema, type RunningServer, type SubgraphDeps } from '@insta/infra';
import type { FeedConfig } from './config.ts';
import type { Context } from './context.ts';
import type { Resolvers } from './generated/graphql.ts';
import { createLoaders } from './loaders.ts';
import { NotificationsRepository } from './notifications.repository.ts';
import { Query } from './resolvers/query.ts';

const resolvers: Resolvers = { Query };

export async function startFeedSubgraph(deps: SubgraphDeps<FeedConfig, PrismaClient>): Promise<RunningServer> {
  const notifications = new NotificationsRepository(deps.db);
  return startSubgraphServer<Context>({
    ...commonServerOptions('feed', deps),
    schema: subgraphSchema('feed', resolvers),
    context: ({ identity }) => ({ identity, loaders: createLoaders(), notifications }),
  });
}

export { loadFeedConfig, type FeedConfig } from './config.ts';
