import { DEFAULT_DUPLICATE_WINDOW_MS, type StreamDefinition } from './common.ts';

/**
 * Owned by the feed subgraph: the notifications' real-time signals (`notificationReceived`). Published right after
 * the write they announce, with a msgId derived from that write, so a redelivered event handler publishes nothing
 * twice. Nothing consumes them durably (the gateway listens live), so an hour is kept and the oldest go first.
 * `feed.items.added` is not stored at all: it is announced to live listeners only (`EventBus.announce`).
 */
export const FEED_STREAM: StreamDefinition = {
  name: 'FEED',
  subjects: ['feed.notification.>'],
  duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS,
  limits: { maxAgeMs: 3_600_000, maxBytes: 64 * 2 ** 20, discard: 'old' },
};

/**
 * Owned by the feed subgraph: the fan-out's batch jobs (`feed.fanout.batch`), one per range of an author's
 * followers, taken by the `feed-fanout-batch` consumer of any feed instance. Kept a little longer than a consumer
 * retries a message (24 h, ADR 9); while full, the post being split is retried (discard new), so no job is lost.
 */
export const FEED_FANOUT_STREAM: StreamDefinition = {
  name: 'FEED_FANOUT',
  subjects: ['feed.fanout.>'],
  duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS,
  limits: { maxAgeMs: 25 * 3_600_000, maxBytes: 1024 * 2 ** 20, discard: 'new' },
};

export const FeedSubjects = {
  /** A notification was created or got a new actor (it is unread again). */
  notificationUpserted: 'feed.notification.upserted',
  /** An actor left the recipient's notifications (an unlike, a resolved follow request); emptied ones are gone. */
  notificationRemoved: 'feed.notification.removed',
  /**
   * A post entered the timelines of `userIds` (one event per fan-out batch of up to FEED_FANOUT_BATCH users, only
   * those whose timeline did not hold it yet). Announced, not stored: live listeners only.
   */
  itemsAdded: 'feed.items.added',
  /** One batch job of a post's fan-out (FEED_FANOUT stream). */
  fanoutBatch: 'feed.fanout.batch',
} as const;

export type NotificationTypeName = 'LIKE' | 'COMMENT' | 'REPLY' | 'FOLLOW' | 'FOLLOW_REQUEST' | 'MENTION';

/** msgId: `notification:<notificationId>:<actorCount>:<updatedAt ms>`. */
export interface NotificationUpsertedEvent {
  /** The recipient. */
  userId: string;
  notificationId: string;
  type: NotificationTypeName;
  actorCount: number;
  updatedAt: string;
}

/** msgId: `notification-removed:<userId>:<type>:<postId or ->:<actorId>:<removedAt ms>`. */
export interface NotificationRemovedEvent {
  /** The recipient. */
  userId: string;
  type: NotificationTypeName;
  /** The post the notifications were about; null for follow requests. */
  postId: string | null;
  actorId: string;
  removedAt: string;
}

/** Announced (not stored), so it has no msgId. */
export interface FeedItemsAddedEvent {
  postId: string;
  authorId: string;
  createdAt: string;
  userIds: string[];
}

/**
 * msgId: `fanout:<postId>:<from>`. The active followers of `authorId` with `from <= followerId < to` (no upper
 * bound when `to` is null) get the post; ranges of one post do not overlap and cover every follower id.
 */
export interface FanoutBatchJob {
  postId: string;
  authorId: string;
  createdAt: string;
  from: string;
  to: string | null;
}
