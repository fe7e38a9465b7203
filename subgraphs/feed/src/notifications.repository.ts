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

const columns = { id: true, userId: true, type: true, postId: true, commentId: true, actorCount: true, readAt: true, updatedAt: true } as const;

/** The only code that touches feed.notifications and feed.notification_actors. */
export class NotificationsRepository {
  constructor(private readonly db: PrismaClient) {}

  /**
   * Adds `actorId` to the notification of (`userId`, `groupKey`), creating it if needed. A new actor makes the
   * notification unread again and moves it to `at`; an actor already there (a redelivered event) changes nothing.
   */
  addActor(input: {
    userId: string;
    type: NotificationType;
    groupKey: string;
    postId: string | null;
    commentId: string | null;
    actorId: string;
    at: Date;
  }): Promise<NotificationRecord> {
    return this.db.$transaction(async (tx) => {
      const { id } = await tx.notification.upsert({
        where: { userId_groupKey: { userId: input.userId, groupKey: input.groupKey } },
        create: { userId: input.userId, type: input.type, groupKey: input.groupKey, postId: input.postId, commentId: input.commentId, updatedAt: input.at },
        update: {},
        select: { id: true },
      });
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

  /** Removes `actorId` from the `type` notifications of `userId` about `postId` (any bucket); drops emptied ones. */
  async removeActor(input: { userId: string; type: NotificationType; postId: string | null; actorId: string }): Promise<void> {
    await this.db.$transaction([
      this.db.$executeRaw`
        WITH removed AS (
          DELETE FROM feed.notification_actors a USING feed.notifications n
          WHERE a.notification_id = n.id AND n.user_id = ${input.userId}::uuid AND n.type = ${input.type}::feed."NotificationType"
            AND n.post_id IS NOT DISTINCT FROM ${input.postId}::uuid AND a.actor_id = ${input.actorId}::uuid
          RETURNING a.notification_id)
        UPDATE feed.notifications SET actor_count = actor_count - 1 WHERE id IN (SELECT notification_id FROM removed)`,
      this.db.notification.deleteMany({ where: { userId: input.userId, actorCount: { lte: 0 } } }),
    ]);
  }

  /** Newest first by (updated_at, id), strictly after `after`. */
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

  /** The `limit` most recent actors of each notification. */
  async actorsOf(notificationIds: readonly string[], limit: number): Promise<{ notificationId: string; actorId: string }[]> {
    if (notificationIds.length === 0) return [];
    return this.db.$queryRaw`
      SELECT notification_id::text AS "notificationId", actor_id::text AS "actorId" FROM (
        SELECT notification_id, actor_id, acted_at,
               row_number() OVER (PARTITION BY notification_id ORDER BY acted_at DESC, actor_id DESC) AS rank
        FROM feed.notification_actors WHERE notification_id = ANY(${notificationIds}::uuid[])) ranked
      WHERE rank <= ${limit}
      ORDER BY notification_id, acted_at DESC, actor_id DESC`;
  }

  countUnread(userId: string): Promise<number> {
    return this.db.notification.count({ where: { userId, readAt: null } });
  }

  async markAllRead(userId: string): Promise<number> {
    const { count } = await this.db.notification.updateMany({ where: { userId, readAt: null }, data: { readAt: new Date() } });
    return count;
  }
}
