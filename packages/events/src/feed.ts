import { DEFAULT_DUPLICATE_WINDOW_MS, type StreamDefinition } from './common.ts';

/**
 * Owned by the feed subgraph: per-user real-time signals for the subscriptions (`notificationReceived`,
 * `feedUpdated`). Published right after the write they announce, with a msgId derived from that write, so a
 * redelivered event handler publishes nothing twice.
 */
export const FEED_STREAM: StreamDefinition = {
  name: 'FEED',
  subjects: ['feed.>'],
  duplicateWindowMs: DEFAULT_DUPLICATE_WINDOW_MS,
};

export const FeedSubjects = {
  /** A notification was created or got a new actor (it is unread again). */
  notificationUpserted: 'feed.notification.upserted',
  /** An actor left the recipient's notifications (an unlike, a resolved follow request); emptied ones are gone. */
  notificationRemoved: 'feed.notification.removed',
  /** A post entered the timelines of `userIds` (one event per fan-out batch of up to FEED_FANOUT_BATCH users). */
  itemsAdded: 'feed.items.added',
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

/** msgId: `feed-items:<postId>:<first userId>:<userIds.length>`. */
export interface FeedItemsAddedEvent {
  postId: string;
  authorId: string;
  createdAt: string;
  userIds: string[];
}
