import type { FanoutBatchJob, PostCreatedEvent } from '@insta/events';
import {
  fanoutDuration,
  fanoutLag,
  isTransientError,
  secondsSince,
  TransientError,
  type BusMessage,
  type Logger,
} from '@insta/infra';
import type { FeedConfig } from './config.ts';
import type { FeedEventsPublisher } from './feed.events.ts';
import type { FeedItem, FeedRepository } from './feed.repository.ts';
import type { FollowersRepository } from './followers.repository.ts';
import type { FollowerSource } from './social-graph.client.ts';
import type { TimelineRepository } from './timeline.repository.ts';

/** social-graph's largest page of follower ids (used only to repair the follow replica). */
const FOLLOWER_PAGE = 5_000;
const DAY_MS = 86_400_000;
/**
 * The first range's lower bound: below every follower id. The ranges are read before the post is indexed, so a
 * follow that lands after that read, with an id below the replica's first, would fall before the first start and
 * also miss the follow's backfill (which looks for the post before it is indexed); from the nil UUID it is in the
 * first range, which is read after the post is indexed.
 */
const BELOW_EVERY_ID = '00000000-0000-0000-0000-000000000000';

export type FanoutSettings = Pick<
  FeedConfig,
  'FEED_ACTIVE_WINDOW_DAYS' | 'FEED_CELEBRITY_FOLLOWERS' | 'FEED_FANOUT_BATCH'
>;

/**
 * Fan-out on write, in independent batches (ADR 18). `handle` takes `posts.post.created`: it indexes the post,
 * writes the author's own timeline, checks the follow replica against social-graph's follower count (repairing it
 * from social-graph's list when they differ), and splits the author's followers into ranges of FEED_FANOUT_BATCH
 * follower ids. One range is written at once; more become `feed.fanout.batch` jobs that the `handleBatch`
 * consumers of every feed instance take. A batch reads its range's active followers and writes their timelines in
 * one script call. Authors with FEED_CELEBRITY_FOLLOWERS or more are not fanned out: their posts are merged into
 * their followers' pages on read. Every step is idempotent (timelines are sets scored by the post's time, jobs
 * have msgIds), so redelivered or reordered batches change nothing.
 */
export class FanoutWorker {
  constructor(
    private readonly feed: FeedRepository,
    private readonly followers: FollowersRepository,
    private readonly timelines: TimelineRepository,
    private readonly socialGraph: FollowerSource,
    private readonly events: FeedEventsPublisher,
    private readonly settings: FanoutSettings,
    private readonly logger: Logger,
  ) {}

  readonly handle = async (message: BusMessage<PostCreatedEvent>): Promise<void> => {
    const { postId, authorId, createdAt } = message.data;
    const end = fanoutDuration.startTimer();
    const item: FeedItem = { id: postId, t: Date.parse(createdAt) };
    // The replica's ranges are read while social-graph is asked for the count and the post is indexed: the three
    // were one wait after another, on the path of every follower's timeline. The read stops at the celebrity
    // threshold (a celebrity's post does not need them); a rejection is seen where it is awaited.
    const replica = this.followers.ranges(
      authorId,
      this.settings.FEED_FANOUT_BATCH,
      this.settings.FEED_CELEBRITY_FOLLOWERS,
    );
    replica.catch(() => undefined);
    const count = await this.socialGraph.followerCount(authorId);
    const celebrity = count >= this.settings.FEED_CELEBRITY_FOLLOWERS;
    const post = await this.feed.recordPost({ postId, authorId, createdAt: new Date(item.t), fannedOut: !celebrity });
    if (post.deleted) return;
    // The author's own timeline and the replica check do not depend on each other: one wait, not two.
    const [, starts] = await Promise.all([
      this.write(authorId, item, [authorId], createdAt),
      post.fannedOut ? this.rangeStarts(authorId, count, replica) : Promise.resolve(null),
    ]);
    if (!starts) return;

    const jobs: FanoutBatchJob[] = starts.map((from, i) => ({
      postId,
      authorId,
      createdAt,
      from: i === 0 ? BELOW_EVERY_ID : from,
      to: starts[i + 1] ?? null,
    }));
    // The first range is written here while the others are queued (and taken by every instance's batch
    // consumers): one hop less for it, and a fan-out of one range queues nothing.
    const [first, ...queued] = jobs;
    await Promise.all([
      first && this.batch(first),
      ...queued.map((job) =>
        this.events.fanoutBatch(job).catch((error: unknown) => {
          // A full FEED_FANOUT stream or NATS away: the post is retried, the jobs queued already are kept once.
          throw isTransientError(error) ? error : new TransientError('fan-out job not queued', { cause: error });
        }),
      ),
    ]);
    end();
    this.logger.debug({ postId, followers: count, jobs: jobs.length }, 'post fan-out split');
  };

  /** One `feed.fanout.batch` job, from any feed instance. */
  readonly handleBatch = async (message: BusMessage<FanoutBatchJob>): Promise<void> => {
    await this.batch(message.data);
  };

  private async batch(job: FanoutBatchJob): Promise<void> {
    const since = new Date(Date.now() - this.settings.FEED_ACTIVE_WINDOW_DAYS * DAY_MS);
    const active = await this.followers.activeInRange(job.authorId, job.from, job.to, since);
    await this.write(job.authorId, { id: job.postId, t: Date.parse(job.createdAt) }, active, job.createdAt);
    fanoutLag.observe(secondsSince(job.createdAt) ?? 0);
  }

  /**
   * The replica is fed by the SOCIAL events; one it missed (an event dropped by the stream's retention, a replica
   * restored from an old backup) shows as a follower count different from social-graph's, and the replica's
   * followers of this author are then made social-graph's list. A count that differs only because an event is in
   * flight costs one such repair, which the event then confirms.
   */
  private async rangeStarts(
    authorId: string,
    expected: number,
    replica: Promise<{ count: number; starts: string[] }>,
  ): Promise<string[]> {
    const ranges = await replica;
    if (ranges.count === expected) return ranges.starts;
    const asOf = new Date();
    const ids: string[] = [];
    for (let after: string | null = null, more = true; more; ) {
      const page = await this.socialGraph.followerIds(authorId, FOLLOWER_PAGE, after);
      ids.push(...page.ids);
      more = page.hasNextPage && page.endCursor !== null;
      after = page.endCursor;
    }
    const changed = await this.followers.reconcile(authorId, ids, asOf);
    this.logger.info({ authorId, expected, changed }, 'follow replica repaired from social-graph');
    return (await this.followers.ranges(authorId, this.settings.FEED_FANOUT_BATCH)).starts;
  }

  /** One Redis call of inserts (each timeline trimmed to the cap), then the signal for the timelines that were new. */
  private async write(authorId: string, item: FeedItem, userIds: string[], createdAt: string): Promise<void> {
    if (userIds.length === 0) return;
    const added = await this.timelines.add(userIds.map((userId) => ({ userId, item })));
    // A live signal: trying the batch again would not send it (nothing is new then), so a failure is only logged.
    await this.events
      .itemsAdded({ postId: item.id, authorId, createdAt, userIds: added.map((e) => e.userId) })
      .catch((error: unknown) => this.logger.warn({ err: error, postId: item.id }, 'feed items not announced'));
  }
}
