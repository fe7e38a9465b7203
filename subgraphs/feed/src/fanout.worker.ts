import type { PostCreatedEvent } from '@insta/events';
import { fanoutDuration, fanoutLag, secondsSince, type BusMessage, type Logger } from '@insta/infra';
import type { FeedConfig } from './config.ts';
import type { FeedEventsPublisher } from './feed.events.ts';
import type { FeedItem, FeedRepository } from './feed.repository.ts';
import type { FollowerPage, FollowerSource } from './social-graph.client.ts';
import type { TimelineRepository } from './timeline.repository.ts';

/** social-graph's largest page of follower ids. */
const FOLLOWER_PAGE = 5_000;
const BATCH_ATTEMPTS = 3;
const DAY_MS = 86_400_000;

export type FanoutSettings = Pick<
  FeedConfig,
  'FEED_ACTIVE_WINDOW_DAYS' | 'FEED_CELEBRITY_FOLLOWERS' | 'FEED_FANOUT_BATCH' | 'FEED_FANOUT_CONCURRENCY'
>;

/**
 * Fan-out on write: handles `posts.post.created` by inserting the post into its author's timeline and into the
 * timeline of every active follower, in batches of FEED_FANOUT_BATCH written by concurrent Redis pipelines, each
 * batch retried on its own. Authors with FEED_CELEBRITY_FOLLOWERS or more are not fanned out: their posts are
 * merged into their followers' pages on read. Every step is idempotent, so a redelivery (after a crash half-way)
 * completes the fan-out without duplicating anything.
 */
export class FanoutWorker {
  constructor(
    private readonly feed: FeedRepository,
    private readonly timelines: TimelineRepository,
    private readonly followers: FollowerSource,
    private readonly events: FeedEventsPublisher,
    private readonly settings: FanoutSettings,
    private readonly logger: Logger,
  ) {}

  readonly handle = async (message: BusMessage<PostCreatedEvent>): Promise<void> => {
    const { postId, authorId, createdAt } = message.data;
    const end = fanoutDuration.startTimer();
    const item: FeedItem = { id: postId, t: Date.parse(createdAt) };
    const celebrity = (await this.followers.followerCount(authorId)) >= this.settings.FEED_CELEBRITY_FOLLOWERS;
    const post = await this.feed.recordPost({ postId, authorId, createdAt: new Date(item.t), fannedOut: !celebrity });
    if (post.deleted) return;
    await this.writeBatch(authorId, item, [authorId], createdAt);
    if (!post.fannedOut) return;

    const since = new Date(Date.now() - this.settings.FEED_ACTIVE_WINDOW_DAYS * DAY_MS);
    const running = new Set<Promise<void>>();
    const failures: unknown[] = [];
    // At most FEED_FANOUT_CONCURRENCY batches are written at a time.
    const launch = async (batch: string[]) => {
      const task: Promise<void> = this.writeBatch(authorId, item, batch, createdAt)
        .catch((error: unknown) => void failures.push(error))
        .finally(() => running.delete(task));
      running.add(task);
      if (running.size >= this.settings.FEED_FANOUT_CONCURRENCY) await Promise.race(running);
    };
    // The next follower page is fetched while this one is filtered and written.
    const fetchPage = (after: string | null): Promise<FollowerPage> => {
      const page = this.followers.followerIds(authorId, FOLLOWER_PAGE, after);
      page.catch(() => undefined);
      return page;
    };
    let next: Promise<FollowerPage> | null = fetchPage(null);
    let reached = 1;
    while (next) {
      const page: FollowerPage = await next;
      next = page.hasNextPage && page.endCursor && failures.length === 0 ? fetchPage(page.endCursor) : null;
      const active = await this.feed.activeAmong(page.ids, since);
      for (let i = 0; i < active.length && failures.length === 0; i += this.settings.FEED_FANOUT_BATCH) {
        await launch(active.slice(i, i + this.settings.FEED_FANOUT_BATCH));
      }
      reached += active.length;
    }
    await Promise.all(running);
    // The message is redelivered and the whole fan-out redone: the batches written are written again, harmlessly.
    if (failures.length > 0) throw failures[0];
    end();
    fanoutLag.observe(secondsSince(createdAt) ?? 0);
    this.logger.debug({ postId, reached }, 'post fanned out');
  };

  /** One batch: one Redis call of inserts (trimmed to the cap), then its real-time event; retried on its own. */
  private async writeBatch(authorId: string, item: FeedItem, userIds: string[], createdAt: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.timelines.add(userIds.map((userId) => ({ userId, item })));
        await this.events.itemsAdded({ postId: item.id, authorId, createdAt, userIds });
        return;
      } catch (error) {
        if (attempt >= BATCH_ATTEMPTS) throw error;
        this.logger.warn({ err: error, postId: item.id, attempt }, 'fan-out batch failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }
}
