import { outboxRow, Prisma, type PrismaClient } from '@insta/db';
import type { SocialEventPayloads, SocialSubject } from '@insta/events';

/** A User as this subgraph knows it: the entity key. */
export interface UserRef {
  id: string;
}

export interface UserStatsRecord {
  userId: string;
  followerCount: number;
  followingCount: number;
}

export interface AccountRecord {
  userId: string;
  isPrivate: boolean;
}

/** A row of a newest-first list: the user, and the time that orders it (with the id as tie-breaker). */
export interface ListRow {
  id: string;
  createdAt: Date;
}
export type ListKey = ListRow;

/** How a viewer (or nobody) relates to a target. */
/** For `audience`: which of the viewers asked have each relation to the target. */
export interface AudienceSets {
  following: string[];
  requested: string[];
  /** The viewer blocks the target. */
  blocking: string[];
  /** The target blocks the viewer. */
  blockedBy: string[];
  /** The viewer has muted the target. */
  muted: string[];
}

export interface RelationRecord {
  targetId: string;
  /** viewer → target, approved. */
  following: boolean;
  /** target → viewer, approved. */
  followedBy: boolean;
  /** viewer → target, pending. */
  requested: boolean;
  /** The viewer blocks the target. */
  blocking: boolean;
  /** The target blocks the viewer. */
  blockedBy: boolean;
  /** The viewer has muted the target. */
  muted: boolean;
  /** True also for an account the replica does not know: private until known (ADR 10). */
  targetIsPrivate: boolean;
  /** The replica has the target's account. */
  known: boolean;
}

export interface PairRecord {
  userId: string;
  otherId: string;
  /** userId has muted otherId. */
  muted: boolean;
  /** Either blocks the other. */
  blocked: boolean;
}

interface CountDelta {
  userId: string;
  followers: number;
  following: number;
}

type Tx = Prisma.TransactionClient;

/** The keyset lists: the table, the column naming whose list it is, the column naming who is on it. */
const LISTS = {
  followers: {
    table: Prisma.raw('social.follows'),
    owner: Prisma.raw('followee_id'),
    member: Prisma.raw('follower_id'),
  },
  following: {
    table: Prisma.raw('social.follows'),
    owner: Prisma.raw('follower_id'),
    member: Prisma.raw('followee_id'),
  },
  requests: {
    table: Prisma.raw('social.follow_requests'),
    owner: Prisma.raw('target_id'),
    member: Prisma.raw('requester_id'),
  },
};
export type ListKind = keyof typeof LISTS;

const uuid = (id: string) => Prisma.sql`${id}::uuid`;

/**
 * The I/O of one transaction of the social graph. Edge changes keep `social.user_stats` exact: a counter moves
 * only when a row was inserted or deleted, in the same transaction. Locks are always taken in the same order,
 * so concurrent transactions wait for each other but never deadlock:
 *   1. at most one pair lock (`lockPair`: an advisory lock on the unordered pair, then the two accounts
 *      FOR KEY SHARE in id order) or one account FOR UPDATE (`lockAccountForUpdate`, a privacy change);
 *   2. edge rows;
 *   3. counter rows, in one statement per transaction, in user-id order (`adjustCounts`).
 */
export class SocialTransaction {
  emitted = 0;

  constructor(private readonly tx: Tx) {}

  /**
   * Serializes every change between a and b (follow, unfollow, answers to requests, block) and, through the
   * account rows, with a privacy change of either. Returns the accounts of the two that the replica knows.
   */
  async lockPair(a: string, b: string): Promise<Map<string, AccountRecord>> {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    await this.tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('social.pair'), hashtext(${`${lo}:${hi}`}))`;
    const accounts = await this.tx.$queryRaw<AccountRecord[]>`
      SELECT user_id::text AS "userId", is_private AS "isPrivate" FROM social.accounts
      WHERE user_id IN (${uuid(lo)}, ${uuid(hi)}) ORDER BY user_id FOR KEY SHARE`;
    return new Map(accounts.map((a) => [a.userId, a]));
  }

  /**
   * Creates or updates a replicated account unless a newer users event was applied already. Locks the row
   * FOR UPDATE: pair changes involving this account wait until the transaction ends.
   */
  async syncAccount(
    userId: string,
    isPrivate: boolean,
    occurredAt: Date,
  ): Promise<{ applied: boolean; wasPrivate: boolean | null }> {
    const inserted = await this.tx.$executeRaw`
      INSERT INTO social.accounts (user_id, is_private, synced_at) VALUES (${uuid(userId)}, ${isPrivate}, ${occurredAt})
      ON CONFLICT (user_id) DO NOTHING`;
    if (inserted === 1) return { applied: true, wasPrivate: null };
    const [current] = await this.tx.$queryRaw<{ isPrivate: boolean; syncedAt: Date }[]>`
      SELECT is_private AS "isPrivate", synced_at AS "syncedAt" FROM social.accounts WHERE user_id = ${uuid(userId)} FOR UPDATE`;
    if (!current || current.syncedAt > occurredAt) return { applied: false, wasPrivate: current?.isPrivate ?? null };
    await this.tx.$executeRaw`
      UPDATE social.accounts SET is_private = ${isPrivate}, synced_at = ${occurredAt} WHERE user_id = ${uuid(userId)}`;
    return { applied: true, wasPrivate: current.isPrivate };
  }

  async blockedEitherWay(a: string, b: string): Promise<boolean> {
    const [row] = await this.tx.$queryRaw<{ blocked: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM social.blocks WHERE blocker_id = ${uuid(a)} AND blocked_id = ${uuid(b)})
          OR EXISTS (SELECT 1 FROM social.blocks WHERE blocker_id = ${uuid(b)} AND blocked_id = ${uuid(a)}) AS blocked`;
    return row!.blocked;
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    const [row] = await this.tx.$queryRaw<{ following: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM social.follows
        WHERE follower_id = ${uuid(followerId)} AND followee_id = ${uuid(followeeId)}) AS following`;
    return row!.following;
  }

  /** True when the edge is new (and counted). */
  async insertFollow(followerId: string, followeeId: string): Promise<boolean> {
    const inserted = await this.tx.$executeRaw`
      INSERT INTO social.follows (follower_id, followee_id) VALUES (${uuid(followerId)}, ${uuid(followeeId)})
      ON CONFLICT DO NOTHING`;
    if (inserted === 1) await this.adjustCounts([{ followerId, followeeId }], 1);
    return inserted === 1;
  }

  /** Deletes the follows between a and b, in either direction; returns them. */
  async deleteFollows(a: string, b: string, bothWays: boolean): Promise<FollowPair[]> {
    const deleted = await this.tx.$queryRaw<FollowPair[]>`
      DELETE FROM social.follows
      WHERE (follower_id = ${uuid(a)} AND followee_id = ${uuid(b)})
         OR (${bothWays} AND follower_id = ${uuid(b)} AND followee_id = ${uuid(a)})
      RETURNING follower_id::text AS "followerId", followee_id::text AS "followeeId"`;
    await this.adjustCounts(deleted, -1);
    return deleted;
  }

  async insertRequest(requesterId: string, targetId: string): Promise<boolean> {
    const inserted = await this.tx.$executeRaw`
      INSERT INTO social.follow_requests (requester_id, target_id) VALUES (${uuid(requesterId)}, ${uuid(targetId)})
      ON CONFLICT DO NOTHING`;
    return inserted === 1;
  }

  /** Deletes the pending requests between a and b (a → b, and b → a when bothWays); returns them. */
  deleteRequests(a: string, b: string, bothWays: boolean): Promise<FollowPair[]> {
    return this.tx.$queryRaw<FollowPair[]>`
      DELETE FROM social.follow_requests
      WHERE (requester_id = ${uuid(a)} AND target_id = ${uuid(b)})
         OR (${bothWays} AND requester_id = ${uuid(b)} AND target_id = ${uuid(a)})
      RETURNING requester_id::text AS "followerId", target_id::text AS "followeeId"`;
  }

  /** Turns every pending request to targetId into a follow; returns the new followers. */
  async approveAllRequests(targetId: string): Promise<string[]> {
    const approved = await this.tx.$queryRaw<FollowPair[]>`
      WITH moved AS (DELETE FROM social.follow_requests WHERE target_id = ${uuid(targetId)} RETURNING requester_id)
      INSERT INTO social.follows (follower_id, followee_id)
      SELECT requester_id, ${uuid(targetId)} FROM moved ORDER BY requester_id
      ON CONFLICT DO NOTHING
      RETURNING follower_id::text AS "followerId", followee_id::text AS "followeeId"`;
    await this.adjustCounts(approved, 1);
    return approved.map((f) => f.followerId);
  }

  async insertBlock(blockerId: string, blockedId: string): Promise<boolean> {
    const inserted = await this.tx.$executeRaw`
      INSERT INTO social.blocks (blocker_id, blocked_id) VALUES (${uuid(blockerId)}, ${uuid(blockedId)})
      ON CONFLICT DO NOTHING`;
    return inserted === 1;
  }

  async deleteBlock(blockerId: string, blockedId: string): Promise<boolean> {
    const deleted = await this.tx.$executeRaw`
      DELETE FROM social.blocks WHERE blocker_id = ${uuid(blockerId)} AND blocked_id = ${uuid(blockedId)}`;
    return deleted === 1;
  }

  async insertMute(muterId: string, mutedId: string): Promise<boolean> {
    const inserted = await this.tx.$executeRaw`
      INSERT INTO social.mutes (muter_id, muted_id) VALUES (${uuid(muterId)}, ${uuid(mutedId)}) ON CONFLICT DO NOTHING`;
    return inserted === 1;
  }

  async deleteMute(muterId: string, mutedId: string): Promise<boolean> {
    const deleted = await this.tx.$executeRaw`
      DELETE FROM social.mutes WHERE muter_id = ${uuid(muterId)} AND muted_id = ${uuid(mutedId)}`;
    return deleted === 1;
  }

  /** Writes events to the outbox; the relay publishes them after the commit. */
  async emit<S extends SocialSubject>(subject: S, payloads: SocialEventPayloads[S][]): Promise<void> {
    if (payloads.length === 0) return;
    const now = new Date();
    await this.tx.socialOutbox.createMany({ data: payloads.map((p) => outboxRow(subject, p, now)) });
    this.emitted += payloads.length;
  }

  /** Moves the counters of the given edges by `sign`, one statement, rows locked in user-id order. */
  private async adjustCounts(edges: FollowPair[], sign: 1 | -1): Promise<void> {
    if (edges.length === 0) return;
    const deltas = new Map<string, CountDelta>();
    const delta = (userId: string) => {
      let d = deltas.get(userId);
      if (!d) deltas.set(userId, (d = { userId, followers: 0, following: 0 }));
      return d;
    };
    for (const edge of edges) {
      delta(edge.followerId).following += sign;
      delta(edge.followeeId).followers += sign;
    }
    const rows = [...deltas.values()];
    await this.tx.$executeRaw`
      INSERT INTO social.user_stats AS s (user_id, follower_count, following_count)
      SELECT user_id, followers, following
      FROM unnest(${rows.map((r) => r.userId)}::uuid[], ${rows.map((r) => r.followers)}::int[],
                  ${rows.map((r) => r.following)}::int[]) AS d(user_id, followers, following)
      ORDER BY user_id
      ON CONFLICT (user_id) DO UPDATE SET follower_count = s.follower_count + excluded.follower_count,
                                          following_count = s.following_count + excluded.following_count`;
  }
}

export interface FollowPair {
  followerId: string;
  followeeId: string;
}

/** The only code of the social-graph subgraph that touches Postgres. */
export class SocialRepository {
  constructor(
    private readonly db: PrismaClient,
    /** Called after a transaction that wrote events commits (wakes the outbox relay). */
    private readonly afterCommit: () => void,
  ) {}

  async transaction<T>(work: (tx: SocialTransaction) => Promise<T>): Promise<T> {
    let emitted = 0;
    const result = await this.db.$transaction(
      async (client) => {
        const tx = new SocialTransaction(client);
        const value = await work(tx);
        emitted = tx.emitted;
        return value;
      },
      { maxWait: 10_000, timeout: 30_000 },
    );
    if (emitted > 0) this.afterCommit();
    return result;
  }

  findAccount(userId: string): Promise<AccountRecord | null> {
    return this.db.socialAccount.findUnique({ where: { userId }, select: { userId: true, isPrivate: true } });
  }

  findStats(userIds: readonly string[]): Promise<UserStatsRecord[]> {
    return this.db.userStats.findMany({ where: { userId: { in: [...userIds] } } });
  }

  /** One row per distinct target; a null viewer relates to nobody. Every check is a primary-key probe. */
  relations(viewerId: string | null, targetIds: string[]): Promise<RelationRecord[]> {
    const v = Prisma.sql`${viewerId}::uuid`;
    return this.db.$queryRaw<RelationRecord[]>`
      SELECT t.id::text AS "targetId",
        EXISTS (SELECT 1 FROM social.follows WHERE follower_id = ${v} AND followee_id = t.id) AS following,
        EXISTS (SELECT 1 FROM social.follows WHERE follower_id = t.id AND followee_id = ${v}) AS "followedBy",
        EXISTS (SELECT 1 FROM social.follow_requests WHERE requester_id = ${v} AND target_id = t.id) AS requested,
        EXISTS (SELECT 1 FROM social.blocks WHERE blocker_id = ${v} AND blocked_id = t.id) AS blocking,
        EXISTS (SELECT 1 FROM social.blocks WHERE blocker_id = t.id AND blocked_id = ${v}) AS "blockedBy",
        EXISTS (SELECT 1 FROM social.mutes WHERE muter_id = ${v} AND muted_id = t.id) AS muted,
        -- An account not replicated yet (or unknown) is treated as private: fail closed.
        coalesce(a.is_private, true) AS "targetIsPrivate",
        a.user_id IS NOT NULL AS known
      FROM unnest(${[...new Set(targetIds)]}::uuid[]) AS t(id)
      LEFT JOIN social.accounts a ON a.user_id = t.id`;
  }

  /**
   * How each viewer relates to one target: one statement, each relation one index scan over all the viewers at
   * once (not a probe per viewer and relation), answered as the sets of viewers that have it.
   */
  async audience(targetId: string, viewerIds: string[]): Promise<AudienceSets> {
    const t = Prisma.sql`${targetId}::uuid`;
    const v = Prisma.sql`${viewerIds}::uuid[]`;
    const [row] = await this.db.$queryRaw<AudienceSets[]>`
      SELECT
        ARRAY(SELECT follower_id::text FROM social.follows WHERE followee_id = ${t} AND follower_id = ANY(${v})) AS following,
        ARRAY(SELECT requester_id::text FROM social.follow_requests WHERE target_id = ${t} AND requester_id = ANY(${v})) AS requested,
        ARRAY(SELECT blocker_id::text FROM social.blocks WHERE blocked_id = ${t} AND blocker_id = ANY(${v})) AS blocking,
        ARRAY(SELECT blocked_id::text FROM social.blocks WHERE blocker_id = ${t} AND blocked_id = ANY(${v})) AS "blockedBy",
        ARRAY(SELECT muter_id::text FROM social.mutes WHERE muted_id = ${t} AND muter_id = ANY(${v})) AS muted`;
    return row ?? { following: [], requested: [], blocking: [], blockedBy: [], muted: [] };
  }

  /** In the order given. */
  pairs(pairs: { userId: string; otherId: string }[]): Promise<PairRecord[]> {
    return this.db.$queryRaw<PairRecord[]>`
      SELECT p.user_id::text AS "userId", p.other_id::text AS "otherId",
        EXISTS (SELECT 1 FROM social.mutes WHERE muter_id = p.user_id AND muted_id = p.other_id) AS muted,
        EXISTS (SELECT 1 FROM social.blocks WHERE blocker_id = p.user_id AND blocked_id = p.other_id)
          OR EXISTS (SELECT 1 FROM social.blocks WHERE blocker_id = p.other_id AND blocked_id = p.user_id) AS blocked
      FROM unnest(${pairs.map((p) => p.userId)}::uuid[], ${pairs.map((p) => p.otherId)}::uuid[])
        WITH ORDINALITY AS p(user_id, other_id, n)
      ORDER BY p.n`;
  }

  /**
   * One newest-first page of a list: the followers of a user, whom they follow, or the pending requests to them.
   * Served by the list's (owner, created_at DESC, member DESC) index: the row comparison starts the index scan at
   * the cursor, so a page costs the same at any depth. With `hideBlockersOf`, members who blocked that user are
   * left out (one primary-key probe per row).
   */
  list(
    kind: ListKind,
    ownerId: string,
    after: ListKey | null,
    limit: number,
    hideBlockersOf: string | null,
  ): Promise<ListRow[]> {
    const { table, owner, member } = LISTS[kind];
    return this.db.$queryRaw<ListRow[]>`
      SELECT e.${member}::text AS id, e.created_at AS "createdAt"
      FROM ${table} e
      WHERE e.${owner} = ${uuid(ownerId)}
        ${after ? Prisma.sql`AND (e.created_at, e.${member}) < (${after.createdAt}::timestamptz, ${uuid(after.id)})` : Prisma.empty}
        ${hideBlockersOf ? Prisma.sql`AND NOT EXISTS (SELECT 1 FROM social.blocks b WHERE b.blocker_id = e.${member} AND b.blocked_id = ${uuid(hideBlockersOf)})` : Prisma.empty}
      ORDER BY e.created_at DESC, e.${member} DESC
      LIMIT ${limit}`;
  }
}
