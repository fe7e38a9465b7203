import type { PrismaClient } from '@insta/db';
import {
  FEED_FANOUT_STREAM,
  FEED_STREAM,
  FeedSubjects,
  POSTS_STREAM,
  PostsSubjects,
  type FanoutBatchJob,
  type PostCreatedEvent,
} from '@insta/events';
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
import { FollowersRepository } from './followers.repository.ts';
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

/** The durable consumer of `posts.post.created` that splits posts into fan-out batches. */
export const FANOUT_DURABLE = 'feed-fanout';
/** The durable consumer of the batch jobs, shared by every feed instance (FEED_FANOUT_CONCURRENCY each). */
export const FANOUT_BATCH_DURABLE = 'feed-fanout-batch';

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
    new FollowersRepository(db),
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
    // FEED first: a FEED stream of an older version captures `feed.>`, which would overlap FEED_FANOUT's subjects.
    await bus.ensureStream(FEED_STREAM);
    await bus.ensureStream(FEED_FANOUT_STREAM);
    await bus.ensureStream(POSTS_STREAM);
    // Small pulls, several consumers: a post never waits behind another one's split, nor a batch behind a busy
    // instance while another could take it.
    for (let i = 0; i < config.FEED_FANOUT_CONCURRENCY; i++) {
      consumers.push(
        await bus.consume<PostCreatedEvent>({
          stream: POSTS_STREAM.name,
          durable: FANOUT_DURABLE,
          filterSubject: PostsSubjects.postCreated,
          maxDeliver: 5,
          ackWaitMs: FEED_ACK_WAIT_MS,
          prefetch: 1,
          handler: worker.handle,
        }),
      );
    }
    for (let i = 0; i < config.FEED_FANOUT_CONCURRENCY; i++) {
      consumers.push(
        await bus.consume<FanoutBatchJob>({
          stream: FEED_FANOUT_STREAM.name,
          durable: FANOUT_BATCH_DURABLE,
          filterSubject: FeedSubjects.fanoutBatch,
          maxDeliver: 5,
          ackWaitMs: FEED_ACK_WAIT_MS,
          prefetch: 1,
          handler: worker.handleBatch,
        }),
      );
    }
    consumers.push(...(await startEventConsumers(bus, handler, { postsConcurrency: config.FEED_POSTS_CONCURRENCY })));
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
