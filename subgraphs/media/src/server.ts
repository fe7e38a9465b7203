import type { PrismaClient } from '@insta/db';
import {
  commonServerOptions,
  startSubgraphServer,
  subgraphSchema,
  type ObjectStorage,
  type RunningServer,
  type SubgraphDeps,
} from '@insta/infra';
import type { MediaConfig } from './config.ts';
import type { Context } from './context.ts';
import type { Resolvers } from './generated/graphql.ts';
import { createLoaders } from './loaders.ts';
import { MediaRepository } from './media.repository.ts';
import { Media } from './resolvers/media.ts';
import { Query } from './resolvers/query.ts';

const resolvers: Resolvers = { Query, Media };

export type MediaDeps = SubgraphDeps<MediaConfig, PrismaClient> & { storage: ObjectStorage };

export async function startMediaSubgraph(deps: MediaDeps): Promise<RunningServer> {
  const media = new MediaRepository(deps.db);
  return startSubgraphServer<Context>({
    ...commonServerOptions('media', deps, { s3: () => deps.storage.ping() }),
    schema: subgraphSchema('media', resolvers),
    context: ({ identity }) => ({ identity, loaders: createLoaders(media) }),
  });
}

export { loadMediaConfig, type MediaConfig } from './config.ts';
