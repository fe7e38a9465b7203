import type { PrismaClient } from '@insta/db';

/** The only code that touches feed.notifications. */
export class NotificationsRepository {
  constructor(private readonly db: PrismaClient) {}

  countUnread(userId: string): Promise<number> {
    return this.db.notification.count({ where: { userId, readAt: null } });
  }
}
