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
   * ascending: range i is [starts[i], starts[i+1]), the last one open-ended. One statement (one snapshot) over the
   * author's range of the (followee_id, follower_id, active) index: each start is found from the previous one by
   * an index-only `OFFSET size LIMIT 1` hop, and the count is `size` per start before the last plus what follows
   * the last. As a window query (`row_number()` and `count(*) OVER ()` over every follow) the same answer cost
   * 3–6× more (ADR 18: 10 000 follows ~15–25 ms against ~4–7 ms, 100 000 ~150 ms against ~30 ms, box loaded).
   * With `limit`, it stops after the start that covers the limit-th follow: a count below `limit` is exact (and
   * `starts` complete), otherwise it only says "at least `limit`" and `starts` are the first ones. The fan-out reads
   * the ranges before it knows whether the author is a celebrity, and this keeps that read bounded.
   */
  async ranges(
    authorId: string,
    size: number,
    limit: number | null = null,
  ): Promise<{ count: number; starts: string[] }> {
    const rows = await this.db.$queryRaw<{ starts: string[] | null; total: number }[]>`
      WITH RECURSIVE s(id, n) AS (
        (SELECT follower_id, 1 FROM feed.follows
         WHERE followee_id = ${authorId}::uuid AND active ORDER BY follower_id LIMIT 1)
        UNION ALL
        SELECT (SELECT f.follower_id FROM feed.follows f
                WHERE f.followee_id = ${authorId}::uuid AND f.active AND f.follower_id >= s.id
                ORDER BY f.follower_id OFFSET ${size}::int LIMIT 1), s.n + 1
        FROM s WHERE s.id IS NOT NULL AND (${limit}::int IS NULL OR s.n * ${size}::int < ${limit}::int)),
      r AS (SELECT array_agg(id ORDER BY id) AS ids FROM s WHERE id IS NOT NULL)
      SELECT ids::text[] AS starts, coalesce((cardinality(ids) - 1) * ${size}::int + (
        SELECT count(*) FROM (
          SELECT FROM feed.follows f
          WHERE f.followee_id = ${authorId}::uuid AND f.active AND f.follower_id >= ids[cardinality(ids)]
          LIMIT CASE WHEN ${limit}::int IS NULL THEN NULL ELSE ${size}::int + 1 END) t), 0)::int AS total
      FROM r`;
    return { count: rows[0]?.total ?? 0, starts: rows[0]?.starts ?? [] };
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
