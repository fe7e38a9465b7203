import type { PrismaClient } from '@insta/db';
import { commonServerOptions, startSubgraphServer, subgraphSchema, type RunningServer, type SubgraphDeps } from '@insta/infra';
import type { SocialGraphConfig } from './config.ts';
import type { Context } from './context.ts';
import type { Resolvers } from './generated/graphql.ts';
import { createLoaders } from './loaders.ts';
import { User } from './resolvers/user.ts';
import { StatsRepository } from './stats.repository.ts';

const resolvers: Resolvers = { User };

export async function startSocialGraphSubgraph(deps: SubgraphDeps<SocialGraphConfig, PrismaClient>): Promise<RunningServer> {
  const stats = new StatsRepository(deps.db);
  return startSubgraphServer<Context>({
    ...commonServerOptions('social-graph', deps),
    schema: subgraphSchema('social-graph', resolvers),
    context: ({ identity }) => ({ identity, loaders: createLoaders(stats) }),
  });
}

export { loadSocialGraphConfig, type SocialGraphConfig } from './config.ts';
