import { z } from 'zod';
import type { NotificationType } from '@insta/db';
import { decodeCursor, encodeCursor, pageSize, type Connection } from '@insta/infra';
import type { FeedEventsPublisher } from './feed.events.ts';
import type { FeedRepository } from './feed.repository.ts';
import type { NotificationRecord, NotificationsRepository } from './notifications.repository.ts';
import type { AuthorAccess } from './social-graph.client.ts';

const LIST = 'notifications';
const cursorKey = z.tuple([z.number().int().nonnegative(), z.uuid()]);

export interface NotifyInput {
  recipientId: string;
  actorId: string;
  type: NotificationType;
  /** What the group is about: a post, a comment replied to, or nothing (follows): with the type and the time bucket it makes the group key. */
  target: string | null;
  postId: string | null;
  commentId: string | null;
  /** The author of `postId` when the event names it; looked up in the feed's post replica otherwise. */
  postAuthorId?: string | null;
  at: Date;
}

/**
 * Grouped notifications (Mastodon-style group key: type + target + time bucket): "ana and 5 others liked your
 * post" is one notification with its actors. No notification to oneself, none from a muted or blocked account,
 * none about a post the recipient may not see (a mention in a private account's post reaches only followers).
 */
export class NotificationsService {
  constructor(
    private readonly notifications: NotificationsRepository,
    private readonly feed: FeedRepository,
    private readonly events: FeedEventsPublisher,
    private readonly groupHours: number,
    private readonly access: AuthorAccess,
  ) {}

  async notify(input: NotifyInput): Promise<void> {
    if (input.recipientId === input.actorId) return;
    if (await this.feed.mutedOrBlocked(input.recipientId, input.actorId)) return;
    if (input.postId && !(await this.maySeePost(input.recipientId, input.postId, input.postAuthorId ?? null))) return;
    const bucket = Math.floor(input.at.getTime() / (this.groupHours * 3_600_000));
    const record = await this.notifications.addActor({
      userId: input.recipientId,
      type: input.type,
      groupKey: `${input.type}:${input.target ?? '-'}:${bucket}`,
      postId: input.postId,
      commentId: input.commentId,
      actorId: input.actorId,
      at: input.at,
    });
    if (!record) return;
    // Published even when a redelivery changed nothing: the msgId (id, count, time) makes it a duplicate then.
    await this.events.notificationUpserted({
      userId: record.userId,
      notificationId: record.id,
      type: record.type,
      actorCount: record.actorCount,
      updatedAt: record.updatedAt.toISOString(),
    });
  }

  /** A post the feed does not know (or knows deleted) is not seen: fail closed. */
  private async maySeePost(viewerId: string, postId: string, knownAuthorId: string | null): Promise<boolean> {
    const authorId = knownAuthorId ?? (await this.feed.liveAuthorsOf([postId])).get(postId);
    if (!authorId) return false;
    if (authorId === viewerId) return true;
    return (await this.access.visibleAuthors(viewerId, [authorId])).has(authorId);
  }

  /**
   * Which of `postIds` the viewer may see now: a notification keeps its post only while it does (an unfollow or
   * a block later hides it, id included).
   */
  async visiblePosts(viewerId: string, postIds: readonly string[]): Promise<Set<string>> {
    const authors = await this.feed.liveAuthorsOf(postIds);
    const visibleAuthors = await this.access.visibleAuthors(viewerId, [...new Set(authors.values())]);
    return new Set([...authors].filter(([, author]) => visibleAuthors.has(author)).map(([post]) => post));
  }

  /** Removes the actor (an unlike at `at`, a resolved follow request) and announces it when something changed. */
  async withdraw(input: {
    recipientId: string;
    actorId: string;
    type: NotificationType;
    postId: string | null;
    at: Date;
  }): Promise<void> {
    const { changed } = await this.notifications.removeActor({
      userId: input.recipientId,
      type: input.type,
      postId: input.postId,
      actorId: input.actorId,
      at: input.at,
    });
    if (!changed) return;
    await this.events.notificationRemoved({
      userId: input.recipientId,
      type: input.type,
      postId: input.postId,
      actorId: input.actorId,
      removedAt: input.at.toISOString(),
    });
  }

  async page(
    userId: string,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Connection<NotificationRecord>> {
    const size = pageSize(first);
    const start = after ? decodeCursor(LIST, after, cursorKey) : null;
    const rows = await this.notifications.page(
      userId,
      start && { updatedAt: new Date(start[0]), id: start[1] },
      size + 1,
    );
    const page = rows.slice(0, size);
    const edges = page.map((n) => ({ cursor: encodeCursor(LIST, [n.updatedAt.getTime(), n.id]), node: n }));
    return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  countUnread(userId: string): Promise<number> {
    return this.notifications.countUnread(userId);
  }

  markAllRead(userId: string): Promise<number> {
    return this.notifications.markAllRead(userId);
  }
}
