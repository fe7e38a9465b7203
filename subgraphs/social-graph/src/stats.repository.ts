import type { PrismaClient } from '@insta/db';

export interface UserStatsRecord {
  userId: string;
  followerCount: number;
  followingCount: number;
}

/** The only code that touches social.user_stats. */
export class StatsRepository {
  constructor(private readonly db: PrismaClient) {}

  findByUserIds(userIds: readonly string[]): Promise<UserStatsRecord[]> {
    return this.db.userStats.findMany({ where: { userId: { in: [...userIds] } } });
  }
}
