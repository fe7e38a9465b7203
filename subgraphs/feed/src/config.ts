import { z } from 'zod';
import { env, loadConfig, subgraphEnvSchema } from '@insta/infra';

export const feedEnvSchema = subgraphEnvSchema.extend({
  PORT: env.port(4003),
  /** social-graph's internal API: follower counts (celebrity threshold, replica check), ids to repair the replica. */
  SOCIAL_GRAPH_URL: env.url().default('http://127.0.0.1:4004/graphql'),
  /** Users active (signed in, refreshed a session, read their feed) within this many days get fan-out. */
  FEED_ACTIVE_WINDOW_DAYS: env.int(7, 1),
  /** Authors with at least this many followers are not fanned out; their posts are merged on read. */
  FEED_CELEBRITY_FOLLOWERS: env.int(10_000, 1),
  /** Post ids kept per timeline in Redis. */
  FEED_TIMELINE_CAP: env.int(800, 20),
  /** Followers per fan-out batch job (one range of follower ids, one Redis call); more than one batch is queued. */
  FEED_FANOUT_BATCH: env.int(1_000, 1),
  /** Batch jobs (of any post), and separately posts being split, one feed process works on at once (its consumers). */
  FEED_FANOUT_CONCURRENCY: env.int(4, 1),
  /**
   * POSTS events (likes, comments, mentions, deletions) one feed process's `feed-posts` consumer handles at once;
   * those of one post one at a time, in order.
   */
  FEED_POSTS_CONCURRENCY: env.int(8, 1),
  /** Recent posts of a newly followed account copied into the follower's timeline. */
  FEED_BACKFILL_POSTS: env.int(50, 0),
  /** Likes (comments, follows ...) within one such window are grouped into one notification. */
  NOTIFICATION_GROUP_HOURS: env.int(12, 1),
});
export type FeedConfig = z.infer<typeof feedEnvSchema>;

export const loadFeedConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(feedEnvSchema, source);
