import { Prisma, type PrismaClient } from '@insta/db';

/**
 * The fan-out's reads of the follow replica (`feed.follows`, kept by the SOCIAL events, ADR 6) and its repair from
 * social-graph's list (ADR 18). Follower ranges are keyset ranges of follower ids over the
 * (followee_id, follower_id) index: a batch reads its range and the activity of those followers in one query.
 */
export class FollowersRepository {
  constructor(private readonly db: PrismaClient) {}

  /**
   * How many approved follows of `authorId` the replica knows, and the first follower id of every `size` of them,
   * ascending: range i is [starts[i], starts[i+1]), the last one open-ended. One scan of the author's index range.
   */
  async ranges(authorId: string, size: number): Promise<{ count: number; starts: string[] }> {
    const rows = await this.db.$queryRaw<{ follower_id: string; total: number }[]>`
      SELECT follower_id::text, total::int FROM (
        SELECT follower_id, row_number() OVER (ORDER BY follower_id) - 1 AS n, count(*) OVER () AS total
        FROM feed.follows WHERE followee_id = ${authorId}::uuid AND active) f
      WHERE n % ${size} = 0 ORDER BY follower_id`;
    return { count: rows[0]?.total ?? 0, starts: rows.map((r) => r.follower_id) };
  }

  /**
   * Followers of `authorId` in [from, to) (to null: no upper bound) active since `since`, in no particular order
   * (timelines are sets). The fan-out's hottest query, answered as one row of joined ids rather than a row per
   * follower, so the driver decodes one value; not sorting them spares the server a sort of every batch. The range
   * of the author's active follows is an index-only scan (`follows_followee_id_follower_id_active_idx`) and each
   * follower's activity one probe of `users_user_id_last_active_at_idx`: the LATERAL ... LIMIT 1 keeps the planner
   * to that nested loop. As a plain join it estimated a hash join over a sequential scan of every user as cheaper
   * for some ranges (a feed.users of ~100 000 rows), and a batch then cost Postgres 7–36 ms instead of ~1 ms
   * (ADR 18). The upper bound is left out, not `to IS NULL OR`, so it is always an index condition.
   */
  async activeInRange(authorId: string, from: string, to: string | null, since: Date): Promise<string[]> {
    const rows = await this.db.$queryRaw<{ ids: string | null }[]>`
      SELECT string_agg(f.follower_id::text, ',') AS ids
      FROM feed.follows f CROSS JOIN LATERAL (
        SELECT FROM feed.users u WHERE u.user_id = f.follower_id AND u.last_active_at >= ${since} LIMIT 1) a
      WHERE f.followee_id = ${authorId}::uuid AND f.active AND f.follower_id >= ${from}::uuid
        ${to === null ? Prisma.empty : Prisma.sql`AND f.follower_id < ${to}::uuid`}`;
    const ids = rows[0]?.ids;
    return ids ? ids.split(',') : [];
  }

  /**
   * Makes the replica's followers of `authorId` the list social-graph gave, read from `asOf` on: follows it lacks
   * (or holds as ended) become active, those social-graph does not have end. Rows an event changed at or after
   * `asOf` are newer than the list and stay. Returns how many rows changed.
   */
  async reconcile(authorId: string, followerIds: readonly string[], asOf: Date): Promise<number> {
    const [added, ended] = await this.db.$transaction([
      this.db.$executeRaw`
        INSERT INTO feed.follows (follower_id, followee_id, active, changed_at)
        SELECT id, ${authorId}::uuid, true, ${asOf} FROM unnest(${followerIds}::uuid[]) AS t(id)
        ON CONFLICT (follower_id, followee_id) DO UPDATE SET active = true, changed_at = EXCLUDED.changed_at
        WHERE NOT feed.follows.active AND feed.follows.changed_at < EXCLUDED.changed_at`,
      this.db.$executeRaw`
        UPDATE feed.follows SET active = false, changed_at = ${asOf}
        WHERE followee_id = ${authorId}::uuid AND active AND changed_at < ${asOf}
          AND follower_id NOT IN (SELECT unnest(${followerIds}::uuid[]))`,
    ]);
    return added + ended;
  }
}
