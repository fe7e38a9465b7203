import { randomUUID } from 'node:crypto';
import type { NotificationType, PrismaClient } from '@insta/db';

export interface NotificationRecord {
  id: string;
  userId: string;
  type: NotificationType;
  postId: string | null;
  commentId: string | null;
  actorCount: number;
  readAt: Date | null;
  updatedAt: Date;
}

const postKey = (postId: string | null) => postId ?? '-';

const columns = {
  id: true,
  userId: true,
  type: true,
  postId: true,
  commentId: true,
  actorCount: true,
  readAt: true,
  updatedAt: true,
} as const;

/** The only code that touches feed.notifications and feed.notification_actors. */
export class NotificationsRepository {
  constructor(private readonly db: PrismaClient) {}

  /**
   * Adds `actorId` to the notification of (`userId`, `groupKey`), creating it if needed. A new actor makes the
   * notification unread again and moves it to `at`; an actor already there (a redelivered event) changes nothing.
   * Null, and nothing written, when the actor was withdrawn at or after `at` (a like delivered after its unlike).
   * Safe to run concurrently for one group (feed replicas).
   */
  addActor(input: {
    userId: string;
    type: NotificationType;
    groupKey: string;
    postId: string | null;
    commentId: string | null;
    actorId: string;
    at: Date;
  }): Promise<NotificationRecord | null> {
    return this.db.$transaction(async (tx) => {
      const withdrawn = await tx.notificationWithdrawal.count({
        where: {
          userId: input.userId,
          type: input.type,
          postKey: postKey(input.postId),
          actorId: input.actorId,
          withdrawnAt: { gte: input.at },
        },
      });
      if (withdrawn > 0) return null;
      // One statement, so two replicas adding actors to a new group at once both land in the one row (the second
      // waits for the first's row lock, then updates it); a read-then-insert made one of them fail on the key.
      const [{ id }] = await tx.$queryRaw<[{ id: string }]>`
        INSERT INTO feed.notifications (id, user_id, type, group_key, post_id, comment_id, updated_at)
        VALUES (${randomUUID()}::uuid, ${input.userId}::uuid, ${input.type}::feed."NotificationType", ${input.groupKey},
                ${input.postId}::uuid, ${input.commentId}::uuid, ${input.at})
        ON CONFLICT (user_id, group_key) DO UPDATE SET user_id = EXCLUDED.user_id
        RETURNING id::text AS id`;
      const added = await tx.notificationActor.createMany({
        data: [{ notificationId: id, actorId: input.actorId, actedAt: input.at }],
        skipDuplicates: true,
      });
      if (added.count === 0) return tx.notification.findUniqueOrThrow({ where: { id }, select: columns });
      await tx.$executeRaw`
        UPDATE feed.notifications
        SET actor_count = actor_count + 1, read_at = NULL, updated_at = GREATEST(updated_at, ${input.at}),
            comment_id = COALESCE(${input.commentId}::uuid, comment_id)
        WHERE id = ${id}::uuid`;
      return tx.notification.findUniqueOrThrow({ where: { id }, select: columns });
    });
  }

  /**
   * Removes `actorId` from the `type` notifications of `userId` about `postId` (any bucket) where they acted by `at`
   * (a late unlike leaves a newer like), drops emptied ones, and records the withdrawal at `at` so an older add
   * arriving later is ignored. `changed`: some notification lost the actor, or this same withdrawal (same time) was
   * recorded before: a redelivery, whose first run may have crashed before announcing it.
   */
  removeActor(input: {
    userId: string;
    type: NotificationType;
    postId: string | null;
    actorId: string;
    at: Date;
  }): Promise<{ changed: boolean }> {
    const key = { userId: input.userId, type: input.type, postKey: postKey(input.postId), actorId: input.actorId };
    return this.db.$transaction(async (tx) => {
      const previous = await tx.notificationWithdrawal.findUnique({
        where: { userId_type_postKey_actorId: key },
        select: { withdrawnAt: true },
      });
      const removed = await tx.$executeRaw`
        WITH removed AS (
          DELETE FROM feed.notification_actors a USING feed.notifications n
          WHERE a.notification_id = n.id AND n.user_id = ${input.userId}::uuid AND n.type = ${input.type}::feed."NotificationType"
            AND n.post_id IS NOT DISTINCT FROM ${input.postId}::uuid AND a.actor_id = ${input.actorId}::uuid
            AND a.acted_at <= ${input.at}
          RETURNING a.notification_id)
        UPDATE feed.notifications SET actor_count = actor_count - 1 WHERE id IN (SELECT notification_id FROM removed)`;
      if (removed > 0) await tx.notification.deleteMany({ where: { userId: input.userId, actorCount: { lte: 0 } } });
      await tx.$executeRaw`
        INSERT INTO feed.notification_withdrawals (user_id, type, post_key, actor_id, withdrawn_at)
        VALUES (${key.userId}::uuid, ${key.type}::feed."NotificationType", ${key.postKey}, ${key.actorId}::uuid, ${input.at})
        ON CONFLICT (user_id, type, post_key, actor_id) DO UPDATE
        SET withdrawn_at = GREATEST(feed.notification_withdrawals.withdrawn_at, EXCLUDED.withdrawn_at)`;
      return { changed: removed > 0 || previous?.withdrawnAt.getTime() === input.at.getTime() };
    });
  }

  /** Newest first by (updated_at, id), strictly after `after`. */
  /** The recipient's own notifications among `ids` (a notification is never visible to anyone else). */
  findOwn(userId: string, ids: readonly string[]): Promise<NotificationRecord[]> {
    return this.db.notification.findMany({ where: { userId, id: { in: [...ids] } }, select: columns });
  }

  page(userId: string, after: { updatedAt: Date; id: string } | null, limit: number): Promise<NotificationRecord[]> {
    return this.db.notification.findMany({
      where: {
        userId,
        ...(after
          ? { OR: [{ updatedAt: { lt: after.updatedAt } }, { updatedAt: after.updatedAt, id: { lt: after.id } }] }
          : {}),
      },
      orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
      take: limit,
      select: columns,
    });
  }

  /**
   * The `limit` most recent actors of each notification, leaving out those the recipient mutes, blocks or is blocked
   * by now (the feed's replicas): a mute or block after the actor acted hides them too.
   */
  async actorsOf(
    notificationIds: readonly string[],
    limit: number,
  ): Promise<{ notificationId: string; actorId: string }[]> {
    if (notificationIds.length === 0) return [];
    return this.db.$queryRaw`
      SELECT notification_id::text AS "notificationId", actor_id::text AS "actorId" FROM (
        SELECT a.notification_id, a.actor_id, a.acted_at,
               row_number() OVER (PARTITION BY a.notification_id ORDER BY a.acted_at DESC, a.actor_id DESC) AS rank
        FROM feed.notification_actors a JOIN feed.notifications n ON n.id = a.notification_id
        WHERE a.notification_id = ANY(${notificationIds}::uuid[])
          AND NOT EXISTS (SELECT 1 FROM feed.mutes m WHERE m.active AND m.muter_id = n.user_id AND m.muted_id = a.actor_id)
          AND NOT EXISTS (SELECT 1 FROM feed.blocks b WHERE b.active AND (b.blocker_id, b.blocked_id) IN
                            ((n.user_id, a.actor_id), (a.actor_id, n.user_id)))) ranked
      WHERE rank <= ${limit}
      ORDER BY notification_id, acted_at DESC, actor_id DESC`;
  }

  countUnread(userId: string): Promise<number> {
    return this.db.notification.count({ where: { userId, readAt: null } });
  }

  async markAllRead(userId: string): Promise<number> {
    const { count } = await this.db.notification.updateMany({
      where: { userId, readAt: null },
      data: { readAt: new Date() },
    });
    return count;
  }
}
