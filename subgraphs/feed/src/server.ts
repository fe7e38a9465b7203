import type { PrismaClient } from '@insta/db';
import { FEED_STREAM, POSTS_STREAM, PostsSubjects, type PostCreatedEvent } from '@insta/events';
import {
  commonServerOptions,
  callPolicySettings,
  createInternalClient,
  startSubgraphServer,
  subgraphSchema,
  type Consumer,
  type RunningServer,
  type SubgraphDeps,
} from '@insta/infra';
import type { FeedConfig } from './config.ts';
import type { Context } from './context.ts';
import { FEED_ACK_WAIT_MS, startEventConsumers, FeedEventsHandler } from './events.consumer.ts';
import { FanoutWorker } from './fanout.worker.ts';
import { FeedEventsPublisher } from './feed.events.ts';
import { FeedRepository } from './feed.repository.ts';
import { FeedService } from './feed.service.ts';
import { createLoaders } from './loaders.ts';
import { NotificationsRepository } from './notifications.repository.ts';
import { NotificationsService } from './notifications.service.ts';
import { resolvers } from './resolvers/index.ts';
import { socialGraphAuthorAccess, socialGraphFollowerSource, type FollowerSource } from './social-graph.client.ts';
import { TimelineRepository } from './timeline.repository.ts';

export type FeedDeps = SubgraphDeps<FeedConfig, PrismaClient> & {
  /** Defaults to social-graph's internal API at SOCIAL_GRAPH_URL. */
  followers?: FollowerSource;
};

/** The durable consumer of `posts.post.created` that fans posts out. */
export const FANOUT_DURABLE = 'feed-fanout';

export async function startFeedSubgraph(deps: FeedDeps): Promise<RunningServer> {
  const { config, db, kv, bus, logger } = deps;
  const internal = createInternalClient(config.SOCIAL_GRAPH_URL, config.GATEWAY_SIGNING_SECRET, {
    from: 'feed',
    to: 'social-graph',
    policy: callPolicySettings(config),
    logger,
  });
  const feedRepo = new FeedRepository(db);
  const timelines = new TimelineRepository(kv, config.FEED_TIMELINE_CAP);
  const publisher = new FeedEventsPublisher(bus);
  const notificationsRepo = new NotificationsRepository(db);
  const notifications = new NotificationsService(
    notificationsRepo,
    feedRepo,
    publisher,
    config.NOTIFICATION_GROUP_HOURS,
    socialGraphAuthorAccess(internal),
  );
  const feed = new FeedService(feedRepo, timelines, { activeWindowDays: config.FEED_ACTIVE_WINDOW_DAYS });
  const handler = new FeedEventsHandler(feedRepo, timelines, notifications, {
    activeWindowDays: config.FEED_ACTIVE_WINDOW_DAYS,
    backfillPosts: config.FEED_BACKFILL_POSTS,
  });
  const worker = new FanoutWorker(
    feedRepo,
    timelines,
    deps.followers ?? socialGraphFollowerSource(internal),
    publisher,
    config,
    logger,
  );

  const consumers: Consumer[] = [];
  const stopWorkers = async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await internal.close();
  };
  try {
    await bus.ensureStream(FEED_STREAM);
    await bus.ensureStream(POSTS_STREAM);
    consumers.push(
      await bus.consume<PostCreatedEvent>({
        stream: POSTS_STREAM.name,
        durable: FANOUT_DURABLE,
        filterSubject: PostsSubjects.postCreated,
        maxDeliver: 5,
        ackWaitMs: FEED_ACK_WAIT_MS,
        prefetch: 4,
        handler: worker.handle,
      }),
    );
    consumers.push(...(await startEventConsumers(bus, handler)));
    return await startSubgraphServer<Context>({
      ...commonServerOptions('feed', deps),
      schema: subgraphSchema('feed', resolvers),
      context: ({ identity }) => ({
        identity,
        loaders: createLoaders(notificationsRepo, identity, notifications),
        feed,
        notifications,
      }),
      onStop: stopWorkers,
    });
  } catch (error) {
    await stopWorkers();
    throw error;
  }
}

export { loadFeedConfig, type FeedConfig } from './config.ts';
export { socialGraphFollowerSource, type FollowerSource } from './social-graph.client.ts';
