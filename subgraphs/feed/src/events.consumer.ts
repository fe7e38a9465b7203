import {
  POSTS_STREAM,
  PostsSubjects,
  SOCIAL_STREAM,
  SocialSubjects,
  USERS_STREAM,
  UsersSubjects,
  type BlockEvent,
  type CommentAddedEvent,
  type EventEnvelope,
  type FollowEvent,
  type MentionCreatedEvent,
  type MuteEvent,
  type PostDeletedEvent,
  type PostLikeEvent,
  type UserActiveEvent,
  type UserCreatedEvent,
} from '@insta/events';
import type { BusMessage, Consumer, EventBus } from '@insta/infra';
import type { FeedRepository } from './feed.repository.ts';
import type { NotificationsService } from './notifications.service.ts';
import type { TimelineRepository } from './timeline.repository.ts';

/**
 * Ack wait of every feed consumer: a crashed feed process's unacknowledged messages reach another within 5 s;
 * a handler still working reports progress every third of it.
 */
export const FEED_ACK_WAIT_MS = 5_000;

const DAY_MS = 86_400_000;

export interface ReplicaSettings {
  activeWindowDays: number;
  backfillPosts: number;
}

type Message = BusMessage<EventEnvelope & Record<string, unknown>>;
const payload = <T>(message: Message) => message.data as unknown as T & EventEnvelope;

/**
 * Applies the USERS, SOCIAL and POSTS events (all but post creation, which the fan-out worker takes) to the feed's
 * replicas, to the timelines (backfill on follow, removal on unfollow and block) and to the notifications. Every
 * handler is idempotent and tolerates events out of order: replica rows carry the time of the event that set them
 * and older events do not overwrite them, timelines are sets, notification actors are keyed by (notification,
 * actor) and an add older than the actor's removal is ignored.
 */
export class FeedEventsHandler {
  constructor(
    private readonly feed: FeedRepository,
    private readonly timelines: TimelineRepository,
    private readonly notifications: NotificationsService,
    private readonly settings: ReplicaSettings,
  ) {}

  readonly users = async (message: Message): Promise<void> => {
    if (message.subject === UsersSubjects.userCreated) {
      const event = payload<UserCreatedEvent>(message);
      await this.feed.touchUser(event.userId, new Date(event.createdAt));
    } else if (message.subject === UsersSubjects.userActive) {
      const event = payload<UserActiveEvent>(message);
      const at = new Date(event.lastActiveAt);
      const previous = await this.feed.touchUser(event.userId, at);
      // Fan-out skipped this user while inactive: the next read rebuilds the timeline.
      if (previous && previous.getTime() < at.getTime() - this.settings.activeWindowDays * DAY_MS) {
        await this.timelines.markStale(event.userId);
      }
    }
  };

  readonly social = async (message: Message): Promise<void> => {
    const at = new Date(message.data.occurredAt);
    switch (message.subject) {
      case SocialSubjects.followCreated:
      case SocialSubjects.followApproved: {
        const { followerId, followeeId } = payload<FollowEvent>(message);
        if (await this.feed.setFollow(followerId, followeeId, true, at)) {
          const recent = await this.feed.recentPostsOf(followeeId, this.settings.backfillPosts);
          await this.timelines.add(recent.map((item) => ({ userId: followerId, item })));
        }
        if (message.subject === SocialSubjects.followCreated) {
          await this.notifications.notify({
            recipientId: followeeId,
            actorId: followerId,
            type: 'FOLLOW',
            target: null,
            postId: null,
            commentId: null,
            at,
          });
        } else {
          await this.notifications.withdraw({
            recipientId: followeeId,
            actorId: followerId,
            type: 'FOLLOW_REQUEST',
            postId: null,
            at,
          });
        }
        return;
      }
      case SocialSubjects.followDeleted: {
        const { followerId, followeeId } = payload<FollowEvent>(message);
        if (!(await this.feed.setFollow(followerId, followeeId, false, at))) return;
        const theirs = await this.feed.postsOfAuthorAmong(followeeId, await this.timelines.postIds(followerId));
        await this.timelines.remove(followerId, theirs);
        return;
      }
      case SocialSubjects.followRequested: {
        const { followerId, followeeId } = payload<FollowEvent>(message);
        await this.notifications.notify({
          recipientId: followeeId,
          actorId: followerId,
          type: 'FOLLOW_REQUEST',
          target: null,
          postId: null,
          commentId: null,
          at,
        });
        return;
      }
      case SocialSubjects.followRejected:
      case SocialSubjects.followCancelled: {
        const { followerId, followeeId } = payload<FollowEvent>(message);
        await this.notifications.withdraw({
          recipientId: followeeId,
          actorId: followerId,
          type: 'FOLLOW_REQUEST',
          postId: null,
          at,
        });
        return;
      }
      case SocialSubjects.blockCreated:
      case SocialSubjects.blockDeleted: {
        // The follows a block ends arrive as follow.deleted events, which clean the timelines.
        const { blockerId, blockedId } = payload<BlockEvent>(message);
        await this.feed.setBlock(blockerId, blockedId, message.subject === SocialSubjects.blockCreated, at);
        return;
      }
      case SocialSubjects.muteCreated:
      case SocialSubjects.muteDeleted: {
        const { muterId, mutedId } = payload<MuteEvent>(message);
        await this.feed.setMute(muterId, mutedId, message.subject === SocialSubjects.muteCreated, at);
        return;
      }
    }
  };

  readonly posts = async (message: Message): Promise<void> => {
    switch (message.subject) {
      case PostsSubjects.postDeleted: {
        const event = payload<PostDeletedEvent>(message);
        // Timelines drop the post lazily, when a read meets it.
        await this.feed.markPostDeleted({
          postId: event.postId,
          authorId: event.authorId,
          createdAt: new Date(event.createdAt),
          deletedAt: new Date(event.deletedAt),
        });
        return;
      }
      case PostsSubjects.postLiked: {
        const event = payload<PostLikeEvent>(message);
        await this.notifications.notify({
          recipientId: event.postAuthorId,
          actorId: event.userId,
          type: 'LIKE',
          target: event.postId,
          postId: event.postId,
          postAuthorId: event.postAuthorId,
          commentId: null,
          at: new Date(event.at),
        });
        return;
      }
      case PostsSubjects.postUnliked: {
        const event = payload<PostLikeEvent>(message);
        await this.notifications.withdraw({
          recipientId: event.postAuthorId,
          actorId: event.userId,
          type: 'LIKE',
          postId: event.postId,
          at: new Date(event.at),
        });
        return;
      }
      case PostsSubjects.commentAdded:
        return this.commentAdded(payload<CommentAddedEvent>(message));
      case PostsSubjects.mentionCreated: {
        const event = payload<MentionCreatedEvent>(message);
        await this.notifications.notify({
          recipientId: event.mentionedUserId,
          actorId: event.authorId,
          type: 'MENTION',
          target: event.commentId ?? event.postId,
          postId: event.postId,
          // A mention in a post is written by the post's author; one in a comment is looked up.
          postAuthorId: event.commentId ? null : event.authorId,
          commentId: event.commentId,
          at: new Date(event.createdAt),
        });
        return;
      }
    }
  };

  /** A reply notifies the author of the comment replied to; the post's author hears of every comment on the post. */
  private async commentAdded(event: CommentAddedEvent) {
    const at = new Date(event.createdAt);
    const base = {
      actorId: event.authorId,
      postId: event.postId,
      commentId: event.commentId,
      postAuthorId: event.postAuthorId,
      at,
    };
    if (event.parentId && event.parentAuthorId) {
      await this.notifications.notify({
        ...base,
        recipientId: event.parentAuthorId,
        type: 'REPLY',
        target: event.parentId,
      });
      if (event.parentAuthorId === event.postAuthorId) return;
    }
    await this.notifications.notify({
      ...base,
      recipientId: event.postAuthorId,
      type: 'COMMENT',
      target: event.postId,
    });
  }
}

export interface EventConsumerOptions {
  /** `feed-posts` handlers running at once (FEED_POSTS_CONCURRENCY); default 1. */
  postsConcurrency?: number;
}

/**
 * The POSTS events of one post are handled one at a time, in stream order (first deliveries; ADR 9): that keeps
 * a like before its unlike, every event of one notification group (its target is the post, or a comment or
 * mention in it) and a post's deletion before what follows it in order within a process, where the handlers'
 * versions and timestamps would otherwise have to sort them out. Events of different posts touch different
 * notification groups and replica rows and run side by side.
 */
export const postOrderingKey = ({ subject, data }: Pick<Message, 'subject' | 'data'>): string =>
  typeof data.postId === 'string' ? data.postId : subject;

/**
 * The three durable consumers of the handler above; the streams are ensured so start order does not matter.
 * Only `feed-posts` runs concurrently: USERS and SOCIAL events are few (sign-ins, follows), and the SOCIAL ones
 * of different pairs interact (a block ends follows and hides notifications of other pairs), so they stay in
 * stream order, one at a time.
 */
export async function startEventConsumers(
  bus: EventBus,
  handler: FeedEventsHandler,
  options: EventConsumerOptions = {},
): Promise<Consumer[]> {
  const consumers: Consumer[] = [];
  const postsConcurrency = options.postsConcurrency ?? 1;
  const specs = [
    { stream: USERS_STREAM, durable: 'feed-users', filterSubject: 'users.user.*', handler: handler.users },
    { stream: SOCIAL_STREAM, durable: 'feed-social', filterSubject: 'social.>', handler: handler.social },
    {
      stream: POSTS_STREAM,
      durable: 'feed-posts',
      filterSubject: 'posts.>',
      handler: handler.posts,
      concurrency: postsConcurrency,
      orderingKey: postOrderingKey,
      // Room to look past events of posts that are busy for those of others.
      prefetch: Math.max(4, 2 * postsConcurrency),
    },
  ];
  try {
    for (const spec of specs) {
      await bus.ensureStream(spec.stream);
      consumers.push(
        await bus.consume({
          stream: spec.stream.name,
          durable: spec.durable,
          filterSubject: spec.filterSubject,
          // Infrastructure failures are retried as long as they last; five tries only for content failures.
          maxDeliver: 5,
          ackWaitMs: FEED_ACK_WAIT_MS,
          prefetch: spec.prefetch ?? 4,
          concurrency: spec.concurrency ?? 1,
          ...(spec.orderingKey ? { orderingKey: spec.orderingKey } : {}),
          handler: spec.handler,
        }),
      );
    }
    return consumers;
  } catch (error) {
    await Promise.all(consumers.map((c) => c.stop()));
    throw error;
  }
}
