import { Prisma, type PrismaClient } from '@insta/db';

/** A timeline entry: a post id and its creation time in ms (the sorted-set score). */
export interface FeedItem {
  id: string;
  t: number;
}

/** Strictly after this item in newest-first order; null: from the newest. */
export type ItemCursor = FeedItem | null;

interface PostRow {
  post_id: string;
  created_at: Date;
}

const toItems = (rows: PostRow[]): FeedItem[] => rows.map((r) => ({ id: r.post_id, t: r.created_at.getTime() }));

const before = (after: ItemCursor) =>
  after
    ? Prisma.sql`AND (p.created_at, p.post_id) < (${new Date(after.t)}::timestamptz, ${after.id}::uuid)`
    : Prisma.empty;

/**
 * The only code that touches the feed schema's replicas (users, follows, mutes, blocks) and its post index,
 * all maintained from the USERS, SOCIAL and POSTS streams. Every write is idempotent: events are redelivered.
 */
export class FeedRepository {
  constructor(private readonly db: PrismaClient) {}

  /** Records activity at `at` (never moving it back); returns the previous time, null for a new user. */
  async touchUser(userId: string, at: Date): Promise<Date | null> {
    const rows = await this.db.$queryRaw<{ previous: Date | null }[]>`
      WITH old AS (SELECT last_active_at FROM feed.users WHERE user_id = ${userId}::uuid)
      INSERT INTO feed.users (user_id, last_active_at) VALUES (${userId}::uuid, ${at})
      ON CONFLICT (user_id) DO UPDATE SET last_active_at = GREATEST(feed.users.last_active_at, EXCLUDED.last_active_at)
      RETURNING (SELECT last_active_at FROM old) AS previous`;
    return rows[0]?.previous ?? null;
  }

  async lastActiveAt(userId: string): Promise<Date | null> {
    const user = await this.db.feedUser.findUnique({ where: { userId }, select: { lastActiveAt: true } });
    return user?.lastActiveAt ?? null;
  }

  /** The users among `userIds` active since `since`, in the order given (so fan-out batches are deterministic). */
  async activeAmong(userIds: readonly string[], since: Date): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.$queryRaw<{ user_id: string }[]>`
      SELECT user_id::text FROM feed.users WHERE user_id = ANY(${userIds}::uuid[]) AND last_active_at >= ${since}`;
    const active = new Set(rows.map((r) => r.user_id));
    return userIds.filter((id) => active.has(id));
  }

  /**
   * Indexes a new post, or returns it as first indexed (a redelivery keeps the first fan-out decision; a deletion
   * that arrived first wins).
   */
  async recordPost(post: { postId: string; authorId: string; createdAt: Date; fannedOut: boolean }) {
    const rows = await this.db.$queryRaw<{ deleted_at: Date | null; fanned_out: boolean }[]>`
      INSERT INTO feed.posts (post_id, author_id, created_at, fanned_out)
      VALUES (${post.postId}::uuid, ${post.authorId}::uuid, ${post.createdAt}, ${post.fannedOut})
      ON CONFLICT (post_id) DO UPDATE SET post_id = EXCLUDED.post_id
      RETURNING deleted_at, fanned_out`;
    const row = rows[0]!;
    if (!row.fanned_out) await this.markPullAuthor(post.authorId);
    return { deleted: row.deleted_at !== null, fannedOut: row.fanned_out };
  }

  /** The author has posts that were not fanned out: followers' reads merge them. */
  private async markPullAuthor(authorId: string) {
    await this.db.$executeRaw`
      INSERT INTO feed.users (user_id, last_active_at, has_pull_posts) VALUES (${authorId}::uuid, now(), true)
      ON CONFLICT (user_id) DO UPDATE SET has_pull_posts = true`;
  }

  async markPostDeleted(post: { postId: string; authorId: string; createdAt: Date; deletedAt: Date }) {
    await this.db.$executeRaw`
      INSERT INTO feed.posts (post_id, author_id, created_at, deleted_at)
      VALUES (${post.postId}::uuid, ${post.authorId}::uuid, ${post.createdAt}, ${post.deletedAt})
      ON CONFLICT (post_id) DO UPDATE SET deleted_at = COALESCE(feed.posts.deleted_at, EXCLUDED.deleted_at)`;
  }

  /**
   * Records the follow (`active`) or its end as of `at` (the event's occurredAt); returns false when a newer event
   * already decided the pair, so the caller skips the timeline side effects. A redelivery of the event that last
   * applied (same `at`) applies again, so side effects a crash interrupted are redone.
   */
  async setFollow(followerId: string, followeeId: string, active: boolean, at: Date): Promise<boolean> {
    const applied = await this.db.$executeRaw`
      INSERT INTO feed.follows (follower_id, followee_id, active, changed_at) VALUES (${followerId}::uuid, ${followeeId}::uuid, ${active}, ${at})
      ON CONFLICT (follower_id, followee_id) DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at
      WHERE feed.follows.changed_at <= EXCLUDED.changed_at`;
    return applied > 0;
  }

  /** Like `setFollow`, for mutes (nothing depends on whether it applied). */
  async setMute(muterId: string, mutedId: string, active: boolean, at: Date): Promise<void> {
    await this.db.$executeRaw`
      INSERT INTO feed.mutes (muter_id, muted_id, active, changed_at) VALUES (${muterId}::uuid, ${mutedId}::uuid, ${active}, ${at})
      ON CONFLICT (muter_id, muted_id) DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at
      WHERE feed.mutes.changed_at <= EXCLUDED.changed_at`;
  }

  /** Like `setFollow`, for blocks (nothing depends on whether it applied). */
  async setBlock(blockerId: string, blockedId: string, active: boolean, at: Date): Promise<void> {
    await this.db.$executeRaw`
      INSERT INTO feed.blocks (blocker_id, blocked_id, active, changed_at) VALUES (${blockerId}::uuid, ${blockedId}::uuid, ${active}, ${at})
      ON CONFLICT (blocker_id, blocked_id) DO UPDATE SET active = EXCLUDED.active, changed_at = EXCLUDED.changed_at
      WHERE feed.blocks.changed_at <= EXCLUDED.changed_at`;
  }

  /** Whether `recipient` muted `actor`, or either blocks the other. */
  async mutedOrBlocked(recipientId: string, actorId: string): Promise<boolean> {
    const rows = await this.db.$queryRaw<{ hidden: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM feed.mutes WHERE muter_id = ${recipientId}::uuid AND muted_id = ${actorId}::uuid AND active)
          OR EXISTS (SELECT 1 FROM feed.blocks WHERE active AND (blocker_id, blocked_id) IN
                       ((${recipientId}::uuid, ${actorId}::uuid), (${actorId}::uuid, ${recipientId}::uuid))) AS hidden`;
    return rows[0]?.hidden ?? false;
  }

  /** The newest live posts of one author. */
  async recentPostsOf(authorId: string, limit: number): Promise<FeedItem[]> {
    const rows = await this.db.$queryRaw<PostRow[]>`
      SELECT post_id::text, created_at FROM feed.posts p
      WHERE p.author_id = ${authorId}::uuid AND p.deleted_at IS NULL
      ORDER BY p.created_at DESC, p.post_id DESC LIMIT ${limit}`;
    return toItems(rows);
  }

  /** The author of each live post among `postIds`; deleted and unknown posts are left out. */
  async liveAuthorsOf(postIds: readonly string[]): Promise<Map<string, string>> {
    if (postIds.length === 0) return new Map();
    const rows = await this.db.$queryRaw<{ post_id: string; author_id: string }[]>`
      SELECT post_id::text, author_id::text FROM feed.posts
      WHERE post_id = ANY(${[...new Set(postIds)]}::uuid[]) AND deleted_at IS NULL`;
    return new Map(rows.map((r) => [r.post_id, r.author_id]));
  }

  /** The posts among `postIds` written by `authorId`. */
  async postsOfAuthorAmong(authorId: string, postIds: readonly string[]): Promise<string[]> {
    if (postIds.length === 0) return [];
    const rows = await this.db.$queryRaw<{ post_id: string }[]>`
      SELECT post_id::text FROM feed.posts WHERE post_id = ANY(${postIds}::uuid[]) AND author_id = ${authorId}::uuid`;
    return rows.map((r) => r.post_id);
  }

  /**
   * Which of `postIds` `viewerId` may see in the feed. `visible`: live, by the viewer or an account the viewer
   * follows (approved, so private accounts are covered; a block removed the follow), and not muted. `gone`: deleted,
   * unknown, or by an account the viewer no longer follows; they can leave the timeline (muted ones stay, for an unmute).
   */
  async visibility(viewerId: string, postIds: readonly string[]): Promise<{ visible: Set<string>; gone: Set<string> }> {
    const visible = new Set<string>();
    const gone = new Set<string>();
    if (postIds.length === 0) return { visible, gone };
    const rows = await this.db.$queryRaw<{ post_id: string; kept: boolean; muted: boolean }[]>`
      SELECT ids.id::text AS post_id,
             COALESCE(p.deleted_at IS NULL AND (p.author_id = ${viewerId}::uuid OR EXISTS (
               SELECT 1 FROM feed.follows f WHERE f.follower_id = ${viewerId}::uuid AND f.followee_id = p.author_id AND f.active)), false) AS kept,
             EXISTS (SELECT 1 FROM feed.mutes m WHERE m.muter_id = ${viewerId}::uuid AND m.muted_id = p.author_id AND m.active) AS muted
      FROM unnest(${postIds}::uuid[]) AS ids(id) LEFT JOIN feed.posts p ON p.post_id = ids.id`;
    for (const row of rows) {
      if (!row.kept) gone.add(row.post_id);
      else if (!row.muted) visible.add(row.post_id);
    }
    return { visible, gone };
  }

  /**
   * The pull query: live posts of the viewer and of every account they follow, newest first, after `after`. Each
   * author's posts come from the (author, created_at, post_id) index, at most `limit` per author.
   */
  async pullPosts(viewerId: string, after: ItemCursor, limit: number): Promise<FeedItem[]> {
    const rows = await this.db.$queryRaw<PostRow[]>`
      SELECT p.post_id::text, p.created_at
      FROM (SELECT followee_id AS author_id FROM feed.follows WHERE follower_id = ${viewerId}::uuid AND active
            UNION ALL SELECT ${viewerId}::uuid) a
      CROSS JOIN LATERAL (
        SELECT p.post_id, p.created_at FROM feed.posts p
        WHERE p.author_id = a.author_id AND p.deleted_at IS NULL ${before(after)}
        ORDER BY p.created_at DESC, p.post_id DESC LIMIT ${limit}) p
      ORDER BY p.created_at DESC, p.post_id DESC LIMIT ${limit}`;
    return toItems(rows);
  }

  /** Like `pullPosts`, but only the posts that were not fanned out (celebrities' posts) of followed accounts. */
  async pulledPostsOfFollowees(viewerId: string, after: ItemCursor, limit: number): Promise<FeedItem[]> {
    const rows = await this.db.$queryRaw<PostRow[]>`
      SELECT p.post_id::text, p.created_at
      FROM feed.follows f JOIN feed.users u ON u.user_id = f.followee_id AND u.has_pull_posts
      CROSS JOIN LATERAL (
        SELECT p.post_id, p.created_at FROM feed.posts p
        WHERE p.author_id = f.followee_id AND NOT p.fanned_out AND p.deleted_at IS NULL ${before(after)}
        ORDER BY p.created_at DESC, p.post_id DESC LIMIT ${limit}) p
      WHERE f.follower_id = ${viewerId}::uuid AND f.active
      ORDER BY p.created_at DESC, p.post_id DESC LIMIT ${limit}`;
    return toItems(rows);
  }
}
