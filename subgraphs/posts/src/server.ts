import { outboxStore, type PrismaClient } from '@insta/db';
import { POSTS_STREAM } from '@insta/events';
import {
  callPolicySettings,
  commonServerOptions,
  createInternalClient,
  OutboxRelay,
  startSubgraphServer,
  subgraphSchema,
  type RunningServer,
  type SubgraphDeps,
} from '@insta/infra';
import { CommentsRepository } from './comments.repository.ts';
import { CommentsService } from './comments.service.ts';
import type { PostsConfig } from './config.ts';
import type { Context } from './context.ts';
import { AudienceService } from './audience.service.ts';
import { createLoaders } from './loaders.ts';
import { mediaClient } from '@insta/media/client';
import { PostsRepository } from './posts.repository.ts';
import { PostsService } from './posts.service.ts';
import { resolvers } from './resolvers/index.ts';
import { socialGraphClient } from '@insta/social-graph/client';
import { usersClient } from './users.client.ts';

export type PostsDeps = SubgraphDeps<PostsConfig, PrismaClient>;

export async function startPostsSubgraph(deps: PostsDeps): Promise<RunningServer> {
  const { config } = deps;
  await deps.bus.ensureStream(POSTS_STREAM);
  const relay = new OutboxRelay(outboxStore(deps.db, 'posts.outbox'), deps.bus, deps.logger);
  relay.start();
  const internal = (to: string, url: string) =>
    createInternalClient(url, config.GATEWAY_SIGNING_SECRET, {
      from: 'posts',
      to,
      policy: callPolicySettings(config),
      logger: deps.logger,
    });
  const usersInternal = internal('users', config.USERS_URL);
  const socialInternal = internal('social-graph', config.SOCIAL_GRAPH_URL);
  const mediaInternal = internal('media', config.MEDIA_URL);
  const close = async () => {
    await relay.stop();
    await Promise.all([usersInternal.close(), socialInternal.close(), mediaInternal.close()]);
  };
  const users = usersClient(usersInternal);
  const repositories = {
    posts: new PostsRepository(deps.db, () => relay.notify()),
    comments: new CommentsRepository(deps.db, () => relay.notify()),
    socialGraph: socialGraphClient(socialInternal),
  };
  const posts = new PostsService(repositories.posts, users, mediaClient(mediaInternal));
  const comments = new CommentsService(repositories.comments, users);
  const audience = new AudienceService(repositories.posts, repositories.socialGraph);
  try {
    return await startSubgraphServer<Context>({
      ...commonServerOptions('posts', deps),
      schema: subgraphSchema('posts', resolvers),
      context: ({ identity }) => ({
        identity,
        loaders: createLoaders(repositories, identity?.userId ?? null),
        posts,
        comments,
        audience,
      }),
      onStop: close,
    });
  } catch (error) {
    await close();
    throw error;
  }
}

export { loadPostsConfig, type PostsConfig } from './config.ts';
